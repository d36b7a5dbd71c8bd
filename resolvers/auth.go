package resolvers

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/security"
)

// Login input bounds: the original required a password of at least 6 characters; the upper
// bounds keep bcrypt (which only reads 72 bytes) and logs cheap.
const (
	minPasswordLen = 6
	maxPasswordLen = 72
	maxUsernameLen = 128
)

func (r *Resolvers) bindAuth(b map[string]map[string]graphql.Field) {
	b["Query"]["me"] = blocking(func(ctx context.Context, _ graphql.ResolveParams) (any, error) {
		id := security.FromContext(ctx)
		return fmt.Sprintf("🐾 Authenticated as: %s (%s), nyaa~!", id.Username, id.Role), nil
	})
	b["Mutation"]["login"] = blocking(r.login)
}

func (r *Resolvers) login(ctx context.Context, p graphql.ResolveParams) (any, error) {
	in := argObject(p, "input")
	username := inputString(in, "username")
	// The password is the one string kept as sent: it is never stored or shown, and stripping
	// bytes from it would let two different secrets match.
	password, _ := in["password"].(string)
	language := inputString(in, "language")
	switch {
	case username == "" || utf8.RuneCountInString(username) > maxUsernameLen:
		return nil, inputErrorf("username must be 1 to %d characters", maxUsernameLen)
	case utf8.RuneCountInString(password) < minPasswordLen:
		return nil, inputErrorf("password must be longer than or equal to %d characters", minPasswordLen)
	case len(password) > maxPasswordLen:
		return nil, inputErrorf("password must be at most %d bytes", maxPasswordLen)
	case len(language) > 8:
		return nil, inputErrorf("language must be a short language code such as \"en\"")
	}
	token, id, err := r.auth.Login(ctx, username, password, language)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"access_token": token,
		"user": map[string]any{
			"username": id.Username,
			"role":     id.Role.String(),
			"language": id.Language,
		},
	}, nil
}

// enforceAuth wraps the binding of every field that carries @auth(requires:) with a role check.
// It is the single place authorization happens for GraphQL: a field's requirement is read from
// the schema once, here, and checked before the resolver runs.
func enforceAuth(schema *ast.Schema, b map[string]map[string]graphql.Field) error {
	for _, def := range schema.Types {
		if def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			d := f.Directives.ForName("auth")
			if d == nil {
				continue
			}
			need, err := requiredRole(schema, d)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", def.Name, f.Name, err)
			}
			binding, ok := b[def.Name][f.Name]
			if !ok {
				return fmt.Errorf("%s.%s declares @auth but has no resolver", def.Name, f.Name)
			}
			next := binding.Resolve
			binding.Resolve = func(ctx context.Context, p graphql.ResolveParams) (any, error) {
				if err := security.Require(ctx, need); err != nil {
					return nil, err
				}
				return next(ctx, p)
			}
			b[def.Name][f.Name] = binding
		}
	}
	return nil
}

// requiredRole reads @auth's requires argument, falling back to the directive's declared default.
func requiredRole(schema *ast.Schema, d *ast.Directive) (security.Role, error) {
	raw := ""
	if a := d.Arguments.ForName("requires"); a != nil && a.Value != nil {
		raw = a.Value.Raw
	} else if dd := schema.Directives["auth"]; dd != nil {
		if arg := dd.Arguments.ForName("requires"); arg != nil && arg.DefaultValue != nil {
			raw = arg.DefaultValue.Raw
		}
	}
	role, err := security.ParseRole(raw)
	if err != nil || role == security.RoleAnonymous {
		return 0, fmt.Errorf("@auth requires a role, got %q", raw)
	}
	return role, nil
}
