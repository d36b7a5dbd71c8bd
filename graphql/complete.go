package graphql

import (
	"context"
	"fmt"
	"reflect"

	"github.com/vektah/gqlparser/v2/ast"
)

// complete implements CompleteValue (§6.4.3) for typ, writing into out. A
// null in a non-null position records "Cannot return null" unless the
// null came from an error that was already recorded, and marks out for
// propagation. A Thunk is not forced here: it is registered with lv and
// completed, into the same out, once the whole level has been resolved.
func (ex *execution) complete(ctx context.Context, lv *level, typ *ast.Type, cf *collectedField, v any, path *pathNode, out *value) {
	out.nonNull = typ.NonNull
	if t, ok := v.(Thunk); ok {
		if t != nil {
			lv.add(pendingThunk{thunk: t, typ: typ, cf: cf, path: path, out: out})
			return
		}
		v = nil
	}
	failed := ex.completeNullable(ctx, lv, typ, cf, v, path, out)
	if typ.NonNull && out.kind == kindNull {
		if !failed {
			ex.newFieldError(fmt.Sprintf("Cannot return null for non-nullable field %s.%s.", cf.parentName(), cf.def.Name), nil, cf, path)
		}
		ex.setNull(out, true)
	}
}

// parentName names the object type the field was resolved on, for messages.
func (cf *collectedField) parentName() string { return cf.parent }

// completeNullable completes v ignoring typ's own non-null flag. It returns
// true when it recorded an error (the value is then null).
func (ex *execution) completeNullable(ctx context.Context, lv *level, typ *ast.Type, cf *collectedField, v any, path *pathNode, out *value) bool {
	if v == nil {
		out.kind = kindNull
		return false
	}
	if typ.Elem != nil {
		return ex.completeList(ctx, lv, typ.Elem, cf, v, path, out)
	}
	var (
		l      leaf
		isNull bool
		err    error
	)
	switch cf.shape {
	case shapeInt:
		l, isNull, err = outputInt(v)
	case shapeFloat:
		l, isNull, err = outputFloat(v)
	case shapeString:
		l, isNull, err = outputString(v)
	case shapeBoolean:
		l, isNull, err = outputBoolean(v)
	case shapeID:
		l, isNull, err = outputID(v)
	case shapeEnum:
		l, isNull, err = outputString(v)
		if err == nil && !isNull {
			if _, ok := ex.e.enums[cf.named.Name][l.s]; !ok {
				err = fmt.Errorf("Enum \"%s\" cannot represent value: %s", cf.named.Name, describe(l.s))
			}
		} else if err != nil {
			err = fmt.Errorf("Enum \"%s\" cannot represent value: %v", cf.named.Name, v)
		}
	case shapeCustom:
		l, isNull, err = ex.serializeCustom(cf.named, v)
	case shapeObject:
		if isNil(v) {
			out.kind = kindNull
			return false
		}
		ex.executeObject(ctx, lv, cf.named, v, ex.subPlan(cf, cf.named), path, out, false)
		return false
	case shapeAbstract:
		if isNil(v) {
			out.kind = kindNull
			return false
		}
		obj, err := ex.resolveType(cf.named, v, cf)
		if err != nil {
			ex.newFieldError(err.Error(), err, cf, path)
			out.kind = kindNull
			return true
		}
		ex.executeObject(ctx, lv, obj, v, ex.subPlan(cf, obj), path, out, false)
		return false
	}
	if err != nil {
		ex.newFieldError(err.Error(), err, cf, path)
		out.kind = kindNull
		return true
	}
	if isNull {
		out.kind = kindNull
		return false
	}
	out.kind, out.n, out.s = l.kind, l.n, l.s
	return false
}

// serializeCustom runs a custom scalar's Serialize into a fresh writer and
// keeps the bytes: a failing codec then leaves no partial JSON behind.
func (ex *execution) serializeCustom(def *ast.Definition, v any) (leaf, bool, error) {
	if isNil(v) {
		return leaf{}, true, nil
	}
	var w JSONWriter
	var err error
	if sc := ex.e.scalars[def.Name]; sc.Serialize != nil {
		err = sc.Serialize(&w, v)
	} else {
		err = w.WriteValue(v)
	}
	if err != nil {
		return leaf{}, false, fmt.Errorf("%s cannot represent value: %w", def.Name, err)
	}
	if len(w.buf) == 0 {
		return leaf{}, false, fmt.Errorf("%s cannot represent value: the scalar's Serialize wrote nothing", def.Name)
	}
	return leaf{kind: kindRaw, s: string(w.buf)}, false, nil
}

// completeItems completes the items of one of completeList's fast-path slice types; a nil slice
// is null.
func completeItems[T any](ctx context.Context, ex *execution, lv *level, itemType *ast.Type, cf *collectedField, list []T, path *pathNode, out *value) {
	if list == nil {
		out.kind = kindNull
		return
	}
	nodes := ex.startList(out, path, len(list))
	for i := range list {
		ex.complete(ctx, lv, itemType, cf, list[i], &nodes[i], &out.elems[i])
	}
}

// completeList completes every item of a list. []any, []map[string]any,
// []string and []int are fast paths; any other slice or array (or pointer
// to one) goes through reflection. A nil slice is null.
func (ex *execution) completeList(ctx context.Context, lv *level, itemType *ast.Type, cf *collectedField, v any, path *pathNode, out *value) bool {
	switch list := v.(type) {
	case []any:
		completeItems(ctx, ex, lv, itemType, cf, list, path, out)
	case []map[string]any:
		completeItems(ctx, ex, lv, itemType, cf, list, path, out)
	case []string:
		completeItems(ctx, ex, lv, itemType, cf, list, path, out)
	case []int:
		completeItems(ctx, ex, lv, itemType, cf, list, path, out)
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Slice:
			if rv.IsNil() {
				out.kind = kindNull
				return false
			}
		case reflect.Array:
		case reflect.Pointer:
			if rv.IsNil() {
				out.kind = kindNull
				return false
			}
			return ex.completeList(ctx, lv, itemType, cf, rv.Elem().Interface(), path, out)
		default:
			err := fmt.Errorf("Expected Iterable, but did not find one for field \"%s.%s\".", cf.parentName(), cf.def.Name)
			ex.newFieldError(err.Error(), err, cf, path)
			out.kind = kindNull
			return true
		}
		n := rv.Len()
		nodes := ex.startList(out, path, n)
		for i := 0; i < n; i++ {
			ex.complete(ctx, lv, itemType, cf, rv.Index(i).Interface(), &nodes[i], &out.elems[i])
		}
	}
	return false
}

// startList turns out into a list of n items and returns their path nodes.
func (ex *execution) startList(out *value, path *pathNode, n int) []pathNode {
	out.kind = kindList
	out.elems = make([]value, n)
	nodes := make([]pathNode, n)
	for i := range nodes {
		nodes[i] = pathNode{parent: path, index: i}
	}
	return nodes
}

// resolveType implements ResolveAbstractType (§6.4.3): the value names its
// concrete type through TypeNamer or a "__typename" map entry, and that
// type must be a possible type of the abstract one.
func (ex *execution) resolveType(abstract *ast.Definition, v any, cf *collectedField) (*ast.Definition, error) {
	var name string
	switch t := v.(type) {
	case TypeNamer:
		name = t.GraphQLTypeName()
	case map[string]any:
		name, _ = t["__typename"].(string)
	}
	if name == "" {
		return nil, fmt.Errorf("Abstract type \"%s\" must resolve to an Object type at runtime for field \"%s.%s\": the value of type %T neither implements GraphQLTypeName() nor has a \"__typename\" entry.",
			abstract.Name, cf.parentName(), cf.def.Name, v)
	}
	def := ex.e.schema.Types[name]
	if def == nil || def.Kind != ast.Object {
		return nil, fmt.Errorf("Abstract type \"%s\" was resolved to \"%s\", which is not an object type of the schema.", abstract.Name, name)
	}
	if _, ok := ex.e.possible[abstract.Name][name]; !ok {
		return nil, fmt.Errorf("Runtime Object type \"%s\" is not a possible type for \"%s\".", name, abstract.Name)
	}
	return def, nil
}

// isNil reports whether v is nil or a typed nil pointer, map, slice,
// interface, function or channel.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch v := v.(type) {
	case map[string]any:
		return v == nil
	case string, int, bool, float64:
		return false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}
