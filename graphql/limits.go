package graphql

import (
	"fmt"
)

// Codes of the errors Prepare returns when a request exceeds a limit of
// Config. They are request errors: no resolver runs.
const (
	// CodeTooComplex marks a document or operation over MaxCost, MaxAliases,
	// MaxRootFields, MaxFieldsPerOperation, MaxTokens or MaxDocumentBytes.
	// Extensions name the measured value and the limit, for example
	// {"cost": 7200, "maxCost": 5000}.
	CodeTooComplex = "QUERY_TOO_COMPLEX"
	// CodeTooDeep marks a document nested deeper than MaxDepth; extensions
	// are {"depth": n, "maxDepth": limit}.
	CodeTooDeep = "QUERY_TOO_DEEP"
)

// Default limits, used when the Config field is zero.
const (
	DefaultMaxCost               = 5000
	DefaultMaxDepth              = 12
	DefaultMaxAliases            = 30
	DefaultMaxRootFields         = 20
	DefaultMaxFieldsPerOperation = 1000
	DefaultMaxTokens             = 10000
	DefaultMaxDocumentBytes      = 64 << 10
	DefaultMaxListInput          = 1000
	DefaultListSize              = 10

	// listInputTotalFactor bounds the list items of all variables of one
	// request together, as a multiple of MaxListInput.
	listInputTotalFactor = 10
)

// limits are the resolved limits of an Engine; zero means disabled.
type limits struct {
	cost, depth, aliases, rootFields, fields, tokens, bytes int
	listInput, listInputTotal                               int
	defaultListSize                                         int
}

// resolveLimits applies the documented defaults: zero means the default,
// a negative value disables the limit.
func resolveLimits(cfg Config) (limits, error) {
	pick := func(v, def int) int {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	l := limits{
		cost:       pick(cfg.MaxCost, DefaultMaxCost),
		depth:      pick(cfg.MaxDepth, DefaultMaxDepth),
		aliases:    pick(cfg.MaxAliases, DefaultMaxAliases),
		rootFields: pick(cfg.MaxRootFields, DefaultMaxRootFields),
		fields:     pick(cfg.MaxFieldsPerOperation, DefaultMaxFieldsPerOperation),
		tokens:     pick(cfg.MaxTokens, DefaultMaxTokens),
		bytes:      pick(cfg.MaxDocumentBytes, DefaultMaxDocumentBytes),
		listInput:  pick(cfg.MaxListInput, DefaultMaxListInput),
	}
	l.listInputTotal = l.listInput * listInputTotalFactor
	switch {
	case cfg.DefaultListSize < 0:
		return l, fmt.Errorf("DefaultListSize is %d, want zero (for %d) or more", cfg.DefaultListSize, DefaultListSize)
	case cfg.DefaultListSize == 0:
		l.defaultListSize = DefaultListSize
	default:
		l.defaultListSize = cfg.DefaultListSize
	}
	return l, nil
}

// limitError builds a CodeTooComplex or CodeTooDeep error whose extensions
// carry the measured value under measure and the limit under limitKey.
func limitError(code, msg, measure string, n int, limitKey string, limit int) *Error {
	return &Error{
		Message:    msg,
		Extensions: map[string]any{"code": code, measure: n, limitKey: limit},
	}
}

// checkMeasures rejects a definition of the document whose measures exceed
// the limits. root tells whether it is an operation, whose root fields
// are bounded too; name describes it in messages.
func (l *limits) checkMeasures(m measures, root bool, name string) *Error {
	switch {
	case l.depth > 0 && m.depth > l.depth:
		return limitError(CodeTooDeep, fmt.Sprintf("%s is nested %d levels deep, more than the maximum of %d.", name, m.depth, l.depth),
			"depth", m.depth, "maxDepth", l.depth)
	case l.aliases > 0 && m.aliases > l.aliases:
		return limitError(CodeTooComplex, fmt.Sprintf("%s uses %d aliases, more than the maximum of %d.", name, m.aliases, l.aliases),
			"aliases", m.aliases, "maxAliases", l.aliases)
	case root && l.rootFields > 0 && m.top > l.rootFields:
		return limitError(CodeTooComplex, fmt.Sprintf("%s selects %d root fields, more than the maximum of %d.", name, m.top, l.rootFields),
			"rootFields", m.top, "maxRootFields", l.rootFields)
	case l.fields > 0 && m.fields > l.fields:
		return limitError(CodeTooComplex, fmt.Sprintf("%s selects %d fields once fragments are expanded, more than the maximum of %d.", name, m.fields, l.fields),
			"fields", m.fields, "maxFields", l.fields)
	}
	return nil
}

// MaxCost returns the cost limit in force (0 when disabled), so that a server can report it next
// to an operation's cost.
func (e *Engine) MaxCost() int { return e.limits.cost }
