package server

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/resolvers"
	"github.com/neko-defense/neko/security"
)

// Error codes of the external contract (DESIGN.md). The engine emits its own three; the rest are
// decided here.
const (
	codeParseFailed        = graphql.CodeParseFailed
	codeValidationFailed   = graphql.CodeValidationFailed
	codeBadUserInput       = graphql.CodeBadUserInput
	codeUnauthenticated    = "UNAUTHENTICATED"
	codeForbidden          = "FORBIDDEN"
	codeServiceUnavailable = "SERVICE_UNAVAILABLE"
	codeInternal           = graphql.CodeInternal
	codeTooComplex         = graphql.CodeTooComplex
	codeRateLimited        = "RATE_LIMITED"
	codePersistedNotFound  = "PERSISTED_QUERY_NOT_FOUND"
)

// maskedMessage replaces the message of internal errors in production so that no driver error,
// stack or address reaches a client.
const maskedMessage = "internal server error"

// httpError is an error raised by the HTTP layer itself (bad media type, malformed body...) with
// the status and code to send.
type httpError struct {
	status     int
	code       string
	message    string
	extensions map[string]any // extra extensions members, e.g. the measured value and the limit
}

func (e *httpError) Error() string { return e.message }

func badRequest(msg string) error {
	return &httpError{status: fiber.StatusBadRequest, code: codeBadUserInput, message: msg}
}

// describe is the one place that decides how an error looks on the wire: its HTTP status (for
// errors that fail a whole request), its extensions.code and its message. production masks the
// message of anything that is not a deliberate, client-facing error.
func describe(err error, production bool) (status int, code, message string) {
	var he *httpError
	var fe *fiber.Error
	var ge *graphql.Error
	var ie *resolvers.InputError
	switch {
	case errors.As(err, &he):
		return he.status, he.code, he.message
	case errors.Is(err, security.ErrInvalidToken):
		return fiber.StatusUnauthorized, codeUnauthenticated, "invalid or expired token"
	case errors.Is(err, security.ErrUnauthenticated):
		return fiber.StatusUnauthorized, codeUnauthenticated, "authentication required"
	case errors.Is(err, security.ErrInvalidCredentials):
		return fiber.StatusUnauthorized, codeUnauthenticated, "invalid credentials"
	case errors.Is(err, security.ErrLoginThrottled):
		return fiber.StatusTooManyRequests, codeRateLimited, "too many failed login attempts; retry later"
	case errors.Is(err, security.ErrKeyInactive):
		return fiber.StatusBadRequest, codeBadUserInput, "api key is revoked, expired or already rotated"
	case errors.Is(err, security.ErrForbidden):
		return fiber.StatusForbidden, codeForbidden, "insufficient role for this operation"
	case errors.As(err, &ie):
		return fiber.StatusBadRequest, codeBadUserInput, ie.Error()
	case errors.Is(err, resilience.ErrBreakerOpen):
		return fiber.StatusServiceUnavailable, codeServiceUnavailable, "the database is unavailable; try again shortly"
	case errors.Is(err, resilience.ErrBulkheadFull):
		return fiber.StatusServiceUnavailable, codeServiceUnavailable, "the server is busy; try again shortly"
	case errors.Is(err, resilience.ErrTimeout):
		return fiber.StatusServiceUnavailable, codeServiceUnavailable, "the database took too long; try again"
	case errors.As(err, &ge) && ge.Extensions["code"] != nil:
		c, _ := ge.Extensions["code"].(string)
		return statusForCode(c), c, ge.Message
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fiber.StatusServiceUnavailable, codeServiceUnavailable, "the request took too long; try again"
	case errors.As(err, &fe):
		return fe.Code, codeForStatus(fe.Code), fe.Message
	}
	if production {
		return fiber.StatusInternalServerError, codeInternal, maskedMessage
	}
	return fiber.StatusInternalServerError, codeInternal, err.Error()
}

func statusForCode(code string) int {
	switch code {
	case codeParseFailed, codeValidationFailed, codeBadUserInput:
		return fiber.StatusBadRequest
	case codeTooComplex, graphql.CodeTooDeep, codePersistedNotFound:
		return fiber.StatusBadRequest
	case codeRateLimited:
		return fiber.StatusTooManyRequests
	case codeUnauthenticated:
		return fiber.StatusUnauthorized
	case codeForbidden:
		return fiber.StatusForbidden
	case codeServiceUnavailable:
		return fiber.StatusServiceUnavailable
	}
	return fiber.StatusInternalServerError
}

func codeForStatus(status int) string {
	switch {
	case status == fiber.StatusUnauthorized:
		return codeUnauthenticated
	case status == fiber.StatusForbidden:
		return codeForbidden
	case status == fiber.StatusServiceUnavailable:
		return codeServiceUnavailable
	case status >= 400 && status < 500:
		return codeBadUserInput
	}
	return codeInternal
}
