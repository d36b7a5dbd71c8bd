package mongo

import (
	"log/slog"
	"reflect"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/time/rate"
)

// lenientRegistry is the BSON registry of the Store's client. The collections are the original
// system's, written over the years by Mongoose, scripts and hand edits, and the driver's decoders
// are strict: one document with a string where a list belongs (iocs: "1.2.3.4") failed a whole
// list query, and every refresh of a warmed answer that included it. DESIGN decision 3 says a
// legacy value is read as null, never a crash. So every field decodes leniently: a value of a BSON
// type its Go field cannot hold is skipped, the field keeps its zero value (a pointer field stays
// nil, i.e. null), and a warning is logged (sampled, at most one a second). Values of a compatible
// type decode exactly as the driver's own decoders do, which this wraps.
//
// Composite values (lists, sub-documents, structs) are only checked for their own type: their
// elements go through these same decoders. Scalars are also forgiven an error after their value
// was read (a fractional double for an integer field, a string that is no date for a time), which
// leaves the reader past the value.
func lenientRegistry(logger *slog.Logger) *bson.Registry {
	// The driver's decoders come from a registry of their own: a lookup caches its answer per Go
	// type, and reg must not remember a strict decoder for the sample types below.
	reg, defaults := bson.NewRegistry(), bson.NewRegistry()
	warned := rate.Sometimes{Interval: time.Second}
	warn := func(v reflect.Value, got bson.Type, err error) {
		warned.Do(func() {
			attrs := []any{"go_type", v.Type().String(), "bson_type", got.String()}
			if err != nil {
				attrs = append(attrs, "err", err)
			}
			logger.Warn("mongo: a stored value does not fit its field; reading it as empty (sampled)", attrs...)
		})
	}
	strict := func(t reflect.Type) bson.ValueDecoder {
		dec, err := defaults.LookupDecoder(t)
		if err != nil {
			panic("mongo: no default BSON decoder for " + t.String()) // the driver's registry has them all
		}
		return dec
	}
	numbers := []bson.Type{bson.TypeInt32, bson.TypeInt64, bson.TypeDouble, bson.TypeBoolean}
	byKind := map[reflect.Kind]lenientDecoder{
		reflect.String:  {accepted: []bson.Type{bson.TypeString, bson.TypeSymbol, bson.TypeObjectID, bson.TypeBinary}, sample: reflect.TypeFor[string]()},
		reflect.Bool:    {accepted: numbers, sample: reflect.TypeFor[bool]()},
		reflect.Int:     {accepted: numbers, sample: reflect.TypeFor[int]()},
		reflect.Int32:   {accepted: numbers, sample: reflect.TypeFor[int32]()},
		reflect.Int64:   {accepted: numbers, sample: reflect.TypeFor[int64]()},
		reflect.Float64: {accepted: numbers, sample: reflect.TypeFor[float64]()},
		reflect.Slice:   {accepted: []bson.Type{bson.TypeArray, bson.TypeBinary, bson.TypeEmbeddedDocument, bson.Type(0)}, sample: reflect.TypeFor[[]string](), composite: true},
		reflect.Map:     {accepted: []bson.Type{bson.TypeEmbeddedDocument, bson.Type(0)}, sample: reflect.TypeFor[map[string]any](), composite: true},
		reflect.Struct:  {accepted: []bson.Type{bson.TypeEmbeddedDocument, bson.Type(0)}, sample: reflect.TypeFor[struct{ A int }](), composite: true},
	}
	for kind, d := range byKind {
		d.strict, d.warn = strict(d.sample), warn
		byKind[kind] = d
		reg.RegisterKindDecoder(kind, d)
	}
	timeType := reflect.TypeFor[time.Time]()
	timeDec := lenientDecoder{accepted: []bson.Type{bson.TypeDateTime, bson.TypeString, bson.TypeInt64, bson.TypeTimestamp},
		strict: strict(timeType), warn: warn}
	reg.RegisterTypeDecoder(timeType, timeDec)
	reg.RegisterKindDecoder(reflect.Pointer, lenientPointer{strict: strict(reflect.TypeFor[*int]()), warn: warn,
		elem: func(t reflect.Type) (lenientDecoder, bool) {
			if t == timeType {
				return timeDec, true
			}
			d, ok := byKind[t.Kind()]
			return d, ok && !d.composite
		}})
	return reg
}

// lenientDecoder decodes with strict when the BSON value's type is one strict accepts (null and
// undefined always are), and otherwise skips the value, leaving the field at its zero value.
type lenientDecoder struct {
	strict    bson.ValueDecoder
	accepted  []bson.Type
	composite bool
	sample    reflect.Type // a Go type strict decodes, to look it up
	warn      func(v reflect.Value, got bson.Type, err error)
}

func (d lenientDecoder) fits(t bson.Type) bool {
	return t == bson.TypeNull || t == bson.TypeUndefined || slices.Contains(d.accepted, t)
}

func (d lenientDecoder) DecodeValue(dc bson.DecodeContext, vr bson.ValueReader, v reflect.Value) error {
	t := vr.Type()
	if !v.CanSet() {
		return d.strict.DecodeValue(dc, vr, v) // the driver's own error
	}
	if !d.fits(t) {
		d.warn(v, t, nil)
		v.SetZero()
		return vr.Skip()
	}
	err := d.strict.DecodeValue(dc, vr, v)
	if err != nil && !d.composite {
		d.warn(v, t, err)
		v.SetZero()
		return nil
	}
	return err
}

// lenientPointer decodes a pointer to a scalar (*int, *bool, *time.Time: the optional fields) as
// nil when the stored value does not fit the scalar, rather than as a pointer to its zero value.
// Pointers to anything else are the driver's, whose element decoders are lenient themselves.
type lenientPointer struct {
	strict bson.ValueDecoder
	elem   func(reflect.Type) (lenientDecoder, bool)
	warn   func(v reflect.Value, got bson.Type, err error)
}

func (d lenientPointer) DecodeValue(dc bson.DecodeContext, vr bson.ValueReader, v reflect.Value) error {
	t := vr.Type()
	ed, ok := d.elem(v.Type().Elem())
	if !ok || !v.CanSet() || t == bson.TypeNull || t == bson.TypeUndefined {
		return d.strict.DecodeValue(dc, vr, v)
	}
	if !ed.fits(t) {
		d.warn(v, t, nil)
		v.SetZero()
		return vr.Skip()
	}
	e := reflect.New(v.Type().Elem())
	if err := ed.strict.DecodeValue(dc, vr, e.Elem()); err != nil {
		d.warn(v, t, err)
		v.SetZero()
		return nil
	}
	v.Set(e)
	return nil
}
