package graphql

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
)

// coerceArguments implements CoerceArgumentValues (§6.4.1): literal and
// variable arguments are coerced to their definitions' types and defaults
// fill in what is missing. Arguments neither provided nor defaulted are
// absent from the result.
func (e *Engine) coerceArguments(defs ast.ArgumentDefinitionList, args ast.ArgumentList, vars map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(defs))
	for _, def := range defs {
		var (
			v       any
			present bool
			err     error
		)
		if arg := args.ForName(def.Name); arg != nil {
			v, present, err = e.coerceLiteral(arg.Value, def.Type, vars)
			if err != nil {
				return nil, fmt.Errorf("Argument \"%s\" has invalid value %s: %w", def.Name, arg.Value, err)
			}
		}
		if !present && def.DefaultValue != nil {
			if v, _, err = e.coerceLiteral(def.DefaultValue, def.Type, nil); err != nil {
				return nil, fmt.Errorf("Argument \"%s\" has invalid default value: %w", def.Name, err)
			}
			present = true
		}
		switch {
		case present && v == nil && def.Type.NonNull:
			return nil, fmt.Errorf("Argument \"%s\" of non-null type \"%s\" must not be null.", def.Name, def.Type)
		case !present && def.Type.NonNull:
			return nil, fmt.Errorf("Argument \"%s\" of required type \"%s\" was not provided.", def.Name, def.Type)
		case present:
			out[def.Name] = v
		}
	}
	return out, nil
}

// coerceLiteral coerces a document literal to typ. present is false when the
// literal is a variable the request did not provide (and that has no
// default), which callers treat as if the value were not written at all.
// Variables in vars are already coerced to their declared types.
func (e *Engine) coerceLiteral(v *ast.Value, typ *ast.Type, vars map[string]any) (any, bool, error) {
	if v.Kind == ast.Variable {
		val, ok := vars[v.Raw]
		if ok && val == nil && typ.NonNull {
			return nil, true, fmt.Errorf("Variable \"$%s\" of type \"%s\" must not be null.", v.Raw, typ)
		}
		return val, ok, nil
	}
	if v.Kind == ast.NullValue {
		if typ.NonNull {
			return nil, true, fmt.Errorf("Expected non-nullable type \"%s\" not to be null.", typ)
		}
		return nil, true, nil
	}
	if typ.Elem != nil {
		if v.Kind != ast.ListValue {
			item, present, err := e.coerceLiteral(v, typ.Elem, vars)
			if err != nil || !present {
				return nil, present, err
			}
			return []any{item}, true, nil
		}
		out := make([]any, len(v.Children))
		for i, c := range v.Children {
			item, present, err := e.coerceLiteral(c.Value, typ.Elem, vars)
			if err != nil {
				return nil, true, err
			}
			if !present && typ.Elem.NonNull {
				return nil, true, fmt.Errorf("Expected non-nullable type \"%s\" not to be null.", typ.Elem)
			}
			out[i] = item
		}
		return out, true, nil
	}
	def := e.schema.Types[typ.NamedType]
	if def == nil {
		return nil, true, fmt.Errorf("Unknown type \"%s\".", typ.NamedType)
	}
	switch def.Kind {
	case ast.Scalar:
		if isBuiltinScalar(def.Name) {
			cv, err := literalBuiltin(def.Name, v)
			return cv, true, err
		}
		sc := e.scalars[def.Name]
		if sc.ParseLiteral != nil {
			cv, err := guard(func() (any, error) { return sc.ParseLiteral(v, vars) })
			return cv, true, err
		}
		raw := literalJSON(v, vars)
		if sc.ParseValue != nil {
			cv, err := guard(func() (any, error) { return sc.ParseValue(raw) })
			return cv, true, err
		}
		return raw, true, nil
	case ast.Enum:
		if v.Kind != ast.EnumValue {
			return nil, true, fmt.Errorf("Enum \"%s\" cannot represent non-enum value: %s.", def.Name, v)
		}
		if _, ok := e.enums[def.Name][v.Raw]; !ok {
			return nil, true, fmt.Errorf("Value \"%s\" does not exist in \"%s\" enum.", v.Raw, def.Name)
		}
		return v.Raw, true, nil
	case ast.InputObject:
		if v.Kind != ast.ObjectValue {
			return nil, true, fmt.Errorf("Expected type \"%s\" to be an object.", def.Name)
		}
		out := make(map[string]any, len(def.Fields))
		for _, f := range def.Fields {
			var (
				fv      any
				present bool
				err     error
			)
			if c := v.Children.ForName(f.Name); c != nil {
				if fv, present, err = e.coerceLiteral(c, f.Type, vars); err != nil {
					return nil, true, err
				}
			}
			if !present && f.DefaultValue != nil {
				if fv, _, err = e.coerceLiteral(f.DefaultValue, f.Type, nil); err != nil {
					return nil, true, err
				}
				present = true
			}
			switch {
			case !present && f.Type.NonNull:
				return nil, true, fmt.Errorf("Field \"%s\" of required type \"%s\" was not provided.", f.Name, f.Type)
			case present:
				out[f.Name] = fv
			}
		}
		if err := checkOneOf(def, out); err != nil {
			return nil, true, err
		}
		return out, true, nil
	}
	return nil, true, fmt.Errorf("Type \"%s\" is not an input type.", def.Name)
}

// literalBuiltin coerces a literal to a built-in scalar. Validation has
// already checked the literal's kind; the range of Int is checked here.
func literalBuiltin(name string, v *ast.Value) (any, error) {
	switch name {
	case "Int":
		if v.Kind == ast.IntValue {
			i, err := strconv.ParseInt(v.Raw, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("Int cannot represent non 32-bit signed integer value: %s", v.Raw)
			}
			return int(i), nil
		}
		return nil, fmt.Errorf("Int cannot represent non-integer value: %s", v)
	case "Float":
		if v.Kind == ast.IntValue || v.Kind == ast.FloatValue {
			f, err := strconv.ParseFloat(v.Raw, 64)
			if err != nil {
				return nil, fmt.Errorf("Float cannot represent non numeric value: %s", v.Raw)
			}
			return f, nil
		}
		return nil, fmt.Errorf("Float cannot represent non numeric value: %s", v)
	case "String":
		if v.Kind == ast.StringValue || v.Kind == ast.BlockValue {
			return v.Raw, nil
		}
		return nil, fmt.Errorf("String cannot represent a non string value: %s", v)
	case "Boolean":
		if v.Kind == ast.BooleanValue {
			return v.Raw == "true", nil
		}
		return nil, fmt.Errorf("Boolean cannot represent a non boolean value: %s", v)
	default:
		if v.Kind == ast.StringValue || v.Kind == ast.BlockValue || v.Kind == ast.IntValue {
			return v.Raw, nil
		}
		return nil, fmt.Errorf("ID cannot represent value: %s", v)
	}
}

// literalJSON converts a literal to the decoded-JSON form ParseValue expects:
// numbers as json.Number, enums as strings, variables as their values.
func literalJSON(v *ast.Value, vars map[string]any) any {
	switch v.Kind {
	case ast.Variable:
		return vars[v.Raw]
	case ast.IntValue, ast.FloatValue:
		return json.Number(v.Raw)
	case ast.StringValue, ast.BlockValue, ast.EnumValue:
		return v.Raw
	case ast.BooleanValue:
		return v.Raw == "true"
	case ast.ListValue:
		out := make([]any, len(v.Children))
		for i, c := range v.Children {
			out[i] = literalJSON(c.Value, vars)
		}
		return out
	case ast.ObjectValue:
		out := make(map[string]any, len(v.Children))
		for _, c := range v.Children {
			if c.Value.Kind == ast.Variable {
				if _, ok := vars[c.Value.Raw]; !ok {
					continue
				}
			}
			out[c.Name] = literalJSON(c.Value, vars)
		}
		return out
	}
	return nil
}

// guard calls an application-supplied codec, turning a panic into an
// error so that a faulty scalar cannot crash Prepare or Execute.
func guard(fn func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}
