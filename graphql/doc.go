// Package graphql executes GraphQL requests against a schema loaded with
// gqlparser, following the GraphQL specification (October 2021).
//
// Data flows through three stages:
//
//  1. New checks a Config once: every root field has a resolver, every custom
//     scalar has a codec, and lookup tables (enum values, possible types,
//     resolver bindings) are built so that requests never consult the
//     configuration maps again.
//
//  2. Engine.Prepare turns a Request into an Operation. The query text is
//     hashed with SHA-256; the hash keys a bounded LRU of parsed and
//     validated documents, so a repeated query costs one hash and one map
//     lookup. The operation is chosen by name and the variables are coerced
//     to their declared types (§6.1.2). Every failure is an *Error (or
//     Errors) carrying a code: CodeParseFailed, CodeValidationFailed or
//     CodeBadUserInput.
//
//  3. Engine.Execute runs the Operation. Fields are collected (§6.3.2),
//     arguments are coerced once per request and shared between all list
//     items, resolvers are called (blocking ones on bounded, owned
//     goroutines), and the results are completed into a compact tree of
//     already-serialized leaves. Null propagation (§6.4.4) is settled in one
//     pass over that tree once every goroutine has finished, and the tree is
//     then written as JSON in selection order with an append-based writer.
//     Execution never panics: resolver panics become field errors with
//     CodeInternal.
//
// The engine knows nothing about the application: resolvers are plain
// functions bound per type and field in Config.Resolvers, values flow through
// as any, and the application tells the engine the concrete type of values
// returned for interfaces and unions by implementing TypeNamer or, for
// map[string]any values, by a "__typename" entry.
package graphql
