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
