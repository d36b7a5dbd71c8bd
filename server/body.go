package server

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
)

// requestBody returns the request's body, decoded when the client compressed it (Content-Encoding
// gzip or deflate, as Apollo Server accepts), and never larger than BodyLimit once decoded: the
// limit fasthttp enforces counts the bytes on the wire, and a 200 KB gzip body can expand to
// gigabytes. Fiber's Ctx.Body decodes without any bound, so the server never calls it.
func (s *Server) requestBody(c *fiber.Ctx) ([]byte, error) {
	raw := c.Request().Body()
	enc := strings.ToLower(strings.TrimSpace(utils.UnsafeString(c.Request().Header.Peek(fiber.HeaderContentEncoding))))
	var (
		r   io.ReadCloser
		err error
	)
	switch enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(raw))
	default:
		return nil, &httpError{status: fiber.StatusUnsupportedMediaType, code: codeBadUserInput,
			message: fmt.Sprintf("Content-Encoding %q is not supported; send the body uncompressed, or as gzip or deflate", truncateString(enc, 40))}
	}
	if err != nil {
		return nil, badRequest("request body is not valid " + enc + ": " + err.Error())
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, int64(s.cfg.BodyLimit)+1))
	if err != nil {
		return nil, badRequest("request body is not valid " + enc + ": " + err.Error())
	}
	if len(body) > s.cfg.BodyLimit {
		return nil, &httpError{status: fiber.StatusRequestEntityTooLarge, code: codeBadUserInput,
			message:    fmt.Sprintf("request body is larger than %d bytes once decoded", s.cfg.BodyLimit),
			extensions: map[string]any{"limitBytes": s.cfg.BodyLimit}}
	}
	return body, nil
}
