package graphql

import (
	"math"
	"strconv"
)

// valueKind tags a node of the result tree.
type valueKind uint8

const (
	kindNull   valueKind = iota
	kindBubble           // null in a non-null position: the parent must become null
	kindBool
	kindInt
	kindFloat
	kindString
	kindRaw // JSON written by a custom scalar
	kindObject
	kindList
)

// value is a node of the result tree. Leaves are stored already coerced
// (n holds bool, int64 or float64 bits; s holds a string or raw JSON), so
// writing the tree cannot fail. Objects keep their plan for the keys.
type value struct {
	kind    valueKind
	nonNull bool // the position is non-null, for settle
	n       uint64
	s       string
	plan    *plan
	elems   []value // object fields in plan order, or list items
}

// settle propagates nulls from non-null positions to the nearest nullable
// ancestor (§6.4.4). It runs after every goroutine has finished, so the
// tree is final; errors were recorded where the nulls arose.
func settle(v *value) {
	if v.kind != kindObject && v.kind != kindList {
		return
	}
	bubble := false
	for i := range v.elems {
		settle(&v.elems[i])
		if v.elems[i].kind == kindBubble {
			bubble = true
		}
	}
	if bubble {
		v.elems, v.plan = nil, nil
		if v.nonNull {
			v.kind = kindBubble
		} else {
			v.kind = kindNull
		}
	}
}

// sizeHint estimates the JSON size of v, so the response buffer is
// allocated once.
func sizeHint(v *value) int {
	switch v.kind {
	case kindBool, kindInt, kindNull, kindBubble:
		return 5
	case kindFloat:
		return 12
	case kindString:
		return len(v.s) + 2
	case kindRaw:
		return len(v.s)
	case kindObject:
		n := 2
		for i := range v.elems {
			n += len(v.plan.fields[i].jsonKey) + 1 + sizeHint(&v.elems[i])
		}
		return n
	case kindList:
		n := 2
		for i := range v.elems {
			n += 1 + sizeHint(&v.elems[i])
		}
		return n
	}
	return 4
}

// appendValue writes v as JSON, object fields in selection order.
func appendValue(b []byte, v *value) []byte {
	switch v.kind {
	case kindBool:
		if v.n != 0 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case kindInt:
		return strconv.AppendInt(b, int64(v.n), 10)
	case kindFloat:
		return appendFloat(b, math.Float64frombits(v.n))
	case kindString:
		return appendJSONString(b, v.s)
	case kindRaw:
		return append(b, v.s...)
	case kindObject:
		b = append(b, '{')
		for i := range v.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v.plan.fields[i].jsonKey...)
			b = appendValue(b, &v.elems[i])
		}
		return append(b, '}')
	case kindList:
		b = append(b, '[')
		for i := range v.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, &v.elems[i])
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}
