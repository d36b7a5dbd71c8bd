package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// formatV1 is the leading byte of every L2 value written by this version. A reader that meets
// another byte treats the value as a miss, so a rolling deploy that changes the layout costs one
// refill per key instead of misreading bytes.
const formatV1 byte = 1

// errCorrupt reports an L2 value that cannot be decoded.
var errCorrupt = errors.New("cache: corrupt L2 value")

// encodeItem lays it out as:
//
//	byte    format (formatV1)
//	varint  StoredAt, Unix nanoseconds
//	varint  MaxAge, StaleWhileRevalidate, StaleIfError, nanoseconds
//	uvarint epoch
//	uvarint number of tags, then per tag: uvarint length, bytes, uvarint version
//	uvarint ETag length, bytes
//	...     Body (the rest of the value)
//
// A binary header keeps the overhead to a few dozen bytes and avoids escaping Body.
func encodeItem(it *item) []byte {
	e := &it.entry
	n := 1 + 6*binary.MaxVarintLen64 + len(e.ETag) + len(e.Body)
	for _, tag := range e.Tags {
		n += 2*binary.MaxVarintLen64 + len(tag)
	}
	b := make([]byte, 0, n)
	b = append(b, formatV1)
	b = binary.AppendVarint(b, e.StoredAt.UnixNano())
	b = binary.AppendVarint(b, int64(it.policy.MaxAge))
	b = binary.AppendVarint(b, int64(it.policy.StaleWhileRevalidate))
	b = binary.AppendVarint(b, int64(it.policy.StaleIfError))
	b = binary.AppendUvarint(b, it.epoch)
	b = binary.AppendUvarint(b, uint64(len(e.Tags)))
	for i, tag := range e.Tags {
		b = binary.AppendUvarint(b, uint64(len(tag)))
		b = append(b, tag...)
		b = binary.AppendUvarint(b, it.versions[i])
	}
	b = binary.AppendUvarint(b, uint64(len(e.ETag)))
	b = append(b, e.ETag...)
	return append(b, e.Body...)
}

// decodeItem parses a value written by encodeItem. Body aliases b.
func decodeItem(b []byte) (*item, error) {
	d := decoder{b: b}
	if f := d.byte(); f != formatV1 {
		return nil, fmt.Errorf("%w: format %d", errCorrupt, f)
	}
	it := &item{}
	it.entry.StoredAt = time.Unix(0, d.varint())
	it.policy.MaxAge = time.Duration(d.varint())
	it.policy.StaleWhileRevalidate = time.Duration(d.varint())
	it.policy.StaleIfError = time.Duration(d.varint())
	it.epoch = d.uvarint()
	ntags := d.uvarint()
	if d.err != nil || ntags > uint64(len(d.b)) { // every tag takes at least two bytes
		return nil, errCorrupt
	}
	if ntags > 0 {
		it.entry.Tags = make([]string, ntags)
		it.versions = make([]uint64, ntags)
	}
	for i := range it.entry.Tags {
		it.entry.Tags[i] = string(d.bytes(d.uvarint()))
		it.versions[i] = d.uvarint()
	}
	it.entry.ETag = string(d.bytes(d.uvarint()))
	if d.err != nil {
		return nil, d.err
	}
	it.entry.Body = d.b
	return it, nil
}

// decoder reads the header fields, remembering the first error so the caller checks once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
