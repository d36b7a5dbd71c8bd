package graphql

import (
	"fmt"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
)

// inputError is a failure to coerce an input value. path locates the
// offending value below the variable ("input.tags[1]") and value is that
// value, so messages can show exactly what was wrong.
type inputError struct {
	path  Path
	value any
	msg   string
	cause error
	// limit marks a list over MaxListInput: value is then not shown, it
	// may be huge.
	limit bool
}

func (e *inputError) Error() string { return e.msg }

// coerceVariables implements CoerceVariableValues (§6.1.2). Variables the
// client sent but the operation does not declare are ignored.
func (e *Engine) coerceVariables(op *ast.OperationDefinition, in map[string]any) (map[string]any, error) {
	if len(op.VariableDefinitions) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(op.VariableDefinitions))
	budget := e.limits.listInputTotal
	var errs []*Error
	for _, def := range op.VariableDefinitions {
		name := def.Variable
		loc := positionLocations(def.Position)
		v, present := in[name]
		switch {
		case !present && def.DefaultValue != nil:
			cv, _, err := e.coerceLiteral(def.DefaultValue, def.Type, nil)
			if err != nil {
				errs = append(errs, badInput(fmt.Sprintf("Variable \"$%s\" has invalid default value: %s", name, err.Error()), loc, err))
				continue
			}
			out[name] = cv
		case !present:
			if def.Type.NonNull {
				errs = append(errs, badInput(fmt.Sprintf("Variable \"$%s\" of required type \"%s\" was not provided.", name, def.Type), loc, nil))
			}
		case v == nil && def.Type.NonNull:
			errs = append(errs, badInput(fmt.Sprintf("Variable \"$%s\" of non-null type \"%s\" must not be null.", name, def.Type), loc, nil))
		default:
			cv, ierr := e.coerceInput(def.Type, v, Path{name}, &budget)
			if ierr != nil && ierr.limit {
				errs = append(errs, badInput(fmt.Sprintf("Variable \"$%s\" is too large at \"%s\": %s", name, ierr.path, ierr.msg), loc, nil))
				continue
			}
			if ierr != nil {
				msg := fmt.Sprintf("Variable \"$%s\" got invalid value %s", name, describe(ierr.value))
				if len(ierr.path) > 1 {
					msg += " at \"" + ierr.path.String() + "\""
				}
				errs = append(errs, badInput(msg+"; "+ierr.msg, loc, ierr.cause))
				continue
			}
			out[name] = cv
		}
	}
	if err := errorList(errs); err != nil {
		return nil, err
	}
	return out, nil
}

func badInput(msg string, locs []Location, cause error) *Error {
	e := newCodedError(CodeBadUserInput, msg, locs...)
	e.Err = cause
	return e
}

func positionLocations(p *ast.Position) []Location {
	if p == nil {
		return nil
	}
	return []Location{{Line: p.Line, Column: p.Column}}
}

// coerceInput coerces a decoded JSON value to typ (§3.5, §3.9, §3.10, §3.12).
// Lists are bounded by MaxListInput each, and together by budget, the
// number of list items the request's variables may still hold.
func (e *Engine) coerceInput(typ *ast.Type, v any, path Path, budget *int) (any, *inputError) {
	if v == nil {
		if typ.NonNull {
			return nil, &inputError{path: path, value: v, msg: fmt.Sprintf("Expected non-nullable type \"%s\" not to be null.", typ)}
		}
		return nil, nil
	}
	if typ.Elem != nil {
		items, ok := v.([]any)
		if !ok {
			// A single value is coerced to a list of one (§3.12).
			cv, err := e.coerceInput(typ.Elem, v, path, budget)
			if err != nil {
				return nil, err
			}
			return []any{cv}, nil
		}
		if l := e.limits.listInput; l > 0 {
			if len(items) > l {
				return nil, &inputError{path: path, limit: true, msg: fmt.Sprintf("a list of %d items, more than the maximum of %d.", len(items), l)}
			}
			if *budget -= len(items); *budget < 0 {
				return nil, &inputError{path: path, limit: true, msg: fmt.Sprintf("the lists of the variables hold more than %d items in total.", e.limits.listInputTotal)}
			}
		}
		out := make([]any, len(items))
		for i, item := range items {
			cv, err := e.coerceInput(typ.Elem, item, append(path[:len(path):len(path)], i), budget)
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	}
	def := e.schema.Types[typ.NamedType]
	if def == nil {
		return nil, &inputError{path: path, value: v, msg: fmt.Sprintf("Unknown type \"%s\".", typ.NamedType)}
	}
	switch def.Kind {
	case ast.Scalar:
		var cv any
		var err error
		if isBuiltinScalar(def.Name) {
			cv, err = inputBuiltin(def.Name, v)
		} else if sc := e.scalars[def.Name]; sc.ParseValue != nil {
			cv, err = guard(func() (any, error) { return sc.ParseValue(v) })
		} else {
			cv = v
		}
		if err != nil {
			return nil, &inputError{path: path, value: v, msg: err.Error(), cause: err}
		}
		return cv, nil
	case ast.Enum:
		s, ok := v.(string)
		if !ok {
			return nil, &inputError{path: path, value: v, msg: fmt.Sprintf("Enum \"%s\" cannot represent non-string value: %s.", def.Name, describe(v))}
		}
		if _, ok := e.enums[def.Name][s]; !ok {
			return nil, &inputError{path: path, value: v, msg: fmt.Sprintf("Value %s does not exist in \"%s\" enum.", clip(strconv.Quote(s)), def.Name)}
		}
		return s, nil
	case ast.InputObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, &inputError{path: path, value: v, msg: fmt.Sprintf("Expected type \"%s\" to be an object.", def.Name)}
		}
		for k := range m {
			if def.Fields.ForName(k) == nil {
				return nil, &inputError{path: path, value: v, msg: fmt.Sprintf("Field \"%s\" is not defined by type \"%s\".", clip(k), def.Name)}
			}
		}
		out := make(map[string]any, len(def.Fields))
		for _, f := range def.Fields {
			fv, present := m[f.Name]
			switch {
			case !present && f.DefaultValue != nil:
				cv, _, err := e.coerceLiteral(f.DefaultValue, f.Type, nil)
				if err != nil {
					return nil, &inputError{path: path, value: v, msg: err.Error(), cause: err}
				}
				out[f.Name] = cv
			case !present:
				if f.Type.NonNull {
					return nil, &inputError{path: path, value: v, msg: fmt.Sprintf("Field \"%s\" of required type \"%s\" was not provided.", f.Name, f.Type)}
				}
			default:
				cv, err := e.coerceInput(f.Type, fv, append(path[:len(path):len(path)], f.Name), budget)
				if err != nil {
					return nil, err
				}
				out[f.Name] = cv
			}
		}
		if err := checkOneOf(def, out); err != nil {
			return nil, &inputError{path: path, value: v, msg: err.Error()}
		}
		return out, nil
	}
	return nil, &inputError{path: path, value: v, msg: fmt.Sprintf("Type \"%s\" is not an input type.", def.Name)}
}

// checkOneOf enforces @oneOf input objects: exactly one field, not null.
func checkOneOf(def *ast.Definition, m map[string]any) error {
	if def.Directives.ForName("oneOf") == nil {
		return nil
	}
	if len(m) != 1 {
		return fmt.Errorf("OneOf Input Object \"%s\" must specify exactly one key.", def.Name)
	}
	for k, v := range m {
		if v == nil {
			return fmt.Errorf("Field \"%s.%s\" must be non-null.", def.Name, k)
		}
	}
	return nil
}
