package server

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// appendJSONString appends s as a JSON string literal. encoding/json escapes exactly as JSON
// requires (including invalid UTF-8 and HTML-sensitive characters); error bodies are not a hot path.
func appendJSONString(b []byte, s string) []byte {
	enc, err := json.Marshal(s)
	if err != nil {
		return append(b, `""`...)
	}
	return append(b, enc...)
}

func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }

// appendExtensions appends ,"k":v for every extension member except code, in key order so
// responses are byte-for-byte reproducible.
func appendExtensions(b []byte, ext map[string]any) []byte {
	keys := make([]string, 0, len(ext))
	for k := range ext {
		if k != "code" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		enc, err := json.Marshal(ext[k])
		if err != nil {
			continue
		}
		b = append(b, ',')
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = append(b, enc...)
	}
	return b
}

// splitComma splits a header list on commas, trimming spaces.
func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// trimWeak drops a W/ prefix: If-None-Match uses the weak comparison.
func trimWeak(tag string) string { return strings.TrimPrefix(tag, "W/") }

// maxJSONValues bounds the JSON values of a request's variables and of its extensions, each
// counted before it is decoded: decoding builds a Go value of some 50 bytes for every one, so a
// body within the size limit holding 200,000 one-letter strings would take more than ten times
// its size in memory. The engine accepts at most 10,000 list items over all variables
// (graphql.DefaultMaxListInput times 10); twice that leaves room for the objects around them.
const maxJSONValues = 20000

// jsonValuesAtMost reports whether the JSON text raw holds at most limit values and member names
// together. It counts an upper bound (the text's start, and every '[', ',' and ':' outside
// strings, starts at most one) without checking validity, which the decoder does afterwards.
func jsonValuesAtMost(raw []byte, limit int) bool {
	n, inString, escaped := 1, false, false
	for _, c := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == ',' || c == ':':
			if n++; n > limit {
				return false
			}
		}
	}
	return true
}
