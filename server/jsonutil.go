package server

import (
	"encoding/json"
	"strconv"
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
