package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/neko-defense/neko/graphql"
)

// Media types of the GraphQL-over-HTTP specification.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// graphql serves POST and GET /graphql following the GraphQL-over-HTTP specification:
//   - POST bodies must be application/json (415 otherwise) holding one JSON object, or an array of
//     at most MaxBatch objects (a batch, answered with an array);
//   - GET carries query, operationName, variables and extensions as URL parameters and may only
//     run queries (405 for a mutation);
//   - the response media type follows Accept: application/graphql-response+json when the client
//     asks for it (then request errors are 400), application/json otherwise (then every
//     well-formed request gets 200, as legacy clients expect).
//
// Each operation then runs through run: persisted query lookup, prepare (cost and depth limits
// included), the response cache, execution and invalidation.
func (s *Server) graphql(c *fiber.Ctx) error {
	media, err := negotiate(c.Get(fiber.HeaderAccept))
	if err != nil {
		return s.chargeArrival(c, err)
	}
	if err := requirePreflight(c); err != nil {
		return s.chargeArrival(c, err)
	}
	e, gen, ok := s.memo.get(c, media, state(c).start)
	if ok {
		if err := s.chargeWhole(c, e.cost); err != nil {
			return err
		}
		return s.writeResult(c, media, e.answer)
	}
	if err := s.chargeArrival(c, nil); err != nil {
		return err
	}
	if readOnly(c) {
		req, err := requestFromQuery(c)
		if err != nil {
			return err
		}
		return s.writeRemembered(c, media, s.run(c, req), gen)
	}
	reqs, batch, err := s.requestsFromBody(c)
	if err != nil {
		return err
	}
	if !batch {
		return s.writeRemembered(c, media, s.run(c, reqs[0]), gen)
	}
	// A batch answers an array; its items are never cached by HTTP intermediaries. Every operation
	// costs at least one token, as a request of its own would: the first was charged on arrival,
	// each further one is charged before it runs (and answered RATE_LIMITED in its place when the
	// tokens are gone), and run charges the rest of each one's cost.
	body := []byte{'['}
	for i, req := range reqs {
		if i > 0 {
			body = append(body, ',')
			if err := s.chargeArrival(c, nil); err != nil {
				body = append(body, s.refusal(err).body...)
				continue
			}
		}
		body = append(body, s.run(c, req).body...)
	}
	body = append(body, ']')
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Cache", "BYPASS") // as a whole; each item went its own way
	c.Set(fiber.HeaderContentType, media+"; charset=utf-8")
	return c.Send(body)
}

// readOnly reports whether the request is a GET or a HEAD: its GraphQL request is in the URL, it
// may only run queries, and conditional requests answer it 304.
func readOnly(c *fiber.Ctx) bool {
	m := c.Method()
	return m == fiber.MethodGet || m == fiber.MethodHead
}

// writeRemembered writes a single operation's result and lets the memo keep it for repeats; gen
// is the invalidation generation the memo lookup saw before r was computed.
func (s *Server) writeRemembered(c *fiber.Ctx, media string, r result, gen uint64) error {
	s.memo.put(c, media, r, gen, r.fresh)
	return s.writeResult(c, media, r)
}

// negotiate picks the response media type from the Accept header. No header, */* or
// application/* mean application/json for compatibility with clients that predate the spec.
func negotiate(accept string) (string, error) {
	switch accept { // what clients send nearly always, answered without parsing
	case "", "*/*", mediaJSON, "application/json; charset=utf-8":
		return mediaJSON, nil
	case mediaGraphQLResponse:
		return mediaGraphQLResponse, nil
	}
	best, bestQ := "", -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			} else {
				q = 0
			}
		}
		var candidate string
		switch mt {
		case mediaGraphQLResponse:
			candidate = mediaGraphQLResponse
		case mediaJSON, "application/*", "*/*":
			candidate = mediaJSON
		default:
			continue
		}
		if q > bestQ || (q == bestQ && candidate == mediaGraphQLResponse) {
			best, bestQ = candidate, q
		}
	}
	if best == "" || bestQ <= 0 {
		return "", &httpError{status: fiber.StatusNotAcceptable, code: codeBadUserInput,
			message: "Accept must allow application/graphql-response+json or application/json"}
	}
	return best, nil
}

// rawRequest is the JSON body of a POST. Fields are raw so that each can be type-checked with a
// precise error instead of a generic decoding failure.
type rawRequest struct {
	Query         json.RawMessage `json:"query"`
	OperationName json.RawMessage `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

// requestsFromBody reads a POST body: one request object, or a batch (a JSON array of them) of at
// most MaxBatch items. batch reports which.
func (s *Server) requestsFromBody(c *fiber.Ctx) (reqs []graphql.Request, batch bool, err error) {
	ct := c.Get(fiber.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != mediaJSON {
		return nil, false, &httpError{status: fiber.StatusUnsupportedMediaType, code: codeBadUserInput,
			message: "Content-Type must be application/json"}
	}
	body, err := s.requestBody(c)
	if err != nil {
		return nil, false, err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, false, badRequest("request body is empty; send a JSON object with a \"query\"")
	}
	switch body[0] {
	case '{':
		req, err := decodeRequest(body)
		return []graphql.Request{req}, false, err
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, true, badRequest("request body is not valid JSON: " + jsonErrorText(err))
		}
		if len(items) == 0 {
			return nil, true, badRequest("a batch must hold at least one request")
		}
		if len(items) > s.cfg.MaxBatch {
			return nil, true, &httpError{status: fiber.StatusBadRequest, code: codeTooComplex,
				message:    fmt.Sprintf("a batch may hold at most %d requests, got %d", s.cfg.MaxBatch, len(items)),
				extensions: map[string]any{"batchSize": len(items), "maxBatchSize": s.cfg.MaxBatch}}
		}
		reqs := make([]graphql.Request, len(items))
		for i, item := range items {
			item = bytes.TrimSpace(item)
			if len(item) == 0 || item[0] != '{' {
				return nil, true, badRequest(fmt.Sprintf("batch item %d must be a JSON object", i))
			}
			if reqs[i], err = decodeRequest(item); err != nil {
				return nil, true, err
			}
		}
		return reqs, true, nil
	}
	return nil, false, badRequest("request body must be a JSON object")
}

// decodeRequest decodes one request object, checking the type of each member.
func decodeRequest(body []byte) (graphql.Request, error) {
	var raw rawRequest
	if err := json.Unmarshal(body, &raw); err != nil {
		return graphql.Request{}, badRequest("request body is not valid JSON: " + jsonErrorText(err))
	}
	var req graphql.Request
	var err error
	if err := decodeString(raw.Query, &req.Query); err != nil {
		return graphql.Request{}, badRequest("\"query\" must be a string")
	}
	if err := decodeString(raw.OperationName, &req.OperationName); err != nil {
		return graphql.Request{}, badRequest("\"operationName\" must be a string or null")
	}
	if req.Variables, err = decodeObject(raw.Variables); err != nil {
		return graphql.Request{}, objectError("variables", "a JSON object or null", err)
	}
	if req.Extensions, err = decodeObject(raw.Extensions); err != nil {
		return graphql.Request{}, objectError("extensions", "a JSON object or null", err)
	}
	if req.Query == "" && persistedHash(req.Extensions) == "" {
		return graphql.Request{}, badRequest("\"query\" must be a non-empty string")
	}
	return req, nil
}

func requestFromQuery(c *fiber.Ctx) (graphql.Request, error) {
	req := graphql.Request{Query: c.Query("query"), OperationName: c.Query("operationName")}
	var err error
	if v := c.Query("variables"); v != "" {
		if req.Variables, err = decodeObject(json.RawMessage(v)); err != nil {
			return req, objectError("variables", "a JSON object", err)
		}
	}
	if v := c.Query("extensions"); v != "" {
		if req.Extensions, err = decodeObject(json.RawMessage(v)); err != nil {
			return req, objectError("extensions", "a JSON object", err)
		}
	}
	if req.Query == "" && persistedHash(req.Extensions) == "" {
		return req, badRequest("missing \"query\" URL parameter")
	}
	return req, nil
}

// objectError is the 400 for request member name that decodeObject refused with err.
func objectError(name, want string, err error) error {
	if errors.Is(err, errTooManyValues) {
		return badRequest(fmt.Sprintf("%q holds more than %d JSON values", name, maxJSONValues))
	}
	return badRequest(fmt.Sprintf("%q must be %s", name, want))
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func decodeString(raw json.RawMessage, dst *string) error {
	if isNull(raw) {
		return nil
	}
	return json.Unmarshal(raw, dst)
}

// errTooManyValues refuses variables or extensions of more than maxJSONValues values.
var errTooManyValues = fmt.Errorf("more than %d JSON values", maxJSONValues)

// decodeObject decodes a JSON object keeping numbers exact (json.Number), so that an Int variable
// such as 9007199254740993 is not silently rounded through float64.
func decodeObject(raw json.RawMessage) (map[string]any, error) {
	if isNull(raw) {
		return nil, nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("not an object")
	}
	if !jsonValuesAtMost(raw, maxJSONValues) {
		return nil, errTooManyValues
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF { // a URL parameter may carry more after the object
		return nil, errors.New("unexpected data after the object")
	}
	return m, nil
}

func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error() + " at offset " + strconv.FormatInt(se.Offset, 10)
	}
	return err.Error()
}

// appendResponse writes {"errors":[...],"data":...}. Data arrives as JSON bytes from the engine
// and is copied, not re-encoded. Errors pass through describe so that codes and production
// masking are decided in one place.
func (s *Server) appendResponse(b []byte, data []byte, errs []*graphql.Error) []byte {
	b = append(b, '{')
	if len(errs) > 0 {
		b = append(b, `"errors":[`...)
		for i, e := range errs {
			if i > 0 {
				b = append(b, ',')
			}
			b = s.appendError(b, e)
		}
		b = append(b, ']')
		if data != nil {
			b = append(b, ',')
		}
	}
	if data != nil {
		b = append(b, `"data":`...)
		b = append(b, data...)
	}
	return append(b, '}')
}

func (s *Server) appendError(b []byte, e *graphql.Error) []byte {
	_, code, msg := describe(e, s.cfg.Production)
	if e.Err == nil && e.Extensions["code"] == nil {
		// An engine error without a cause or code (e.g. a non-null violation) is a plain
		// execution error whose message is safe to show.
		msg = e.Message
	}
	b = append(b, `{"message":`...)
	b = appendJSONString(b, msg)
	if len(e.Locations) > 0 {
		b = append(b, `,"locations":[`...)
		for i, l := range e.Locations {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"line":`...)
			b = appendInt(b, l.Line)
			b = append(b, `,"column":`...)
			b = appendInt(b, l.Column)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(e.Path) > 0 {
		b = append(b, `,"path":[`...)
		for i, p := range e.Path {
			if i > 0 {
				b = append(b, ',')
			}
			switch v := p.(type) {
			case int:
				b = appendInt(b, v)
			case string:
				b = appendJSONString(b, v)
			default:
				b = appendJSONString(b, fmt.Sprint(v))
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"extensions":{"code":`...)
	b = appendJSONString(b, code)
	b = appendExtensions(b, e.Extensions)
	return append(b, `}}`...)
}
