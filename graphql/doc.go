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
//  2. Engine.Prepare turns a Request into an Operation. Hostile input meets
//     the cheapest checks first: the text's size, the parser's token limit,
//     then one memoized walk of the AST that bounds depth, aliases, root
//     fields and fields with fragments expanded (linear however fragments
//     fan out), and only then validation. The query text is hashed with
//     SHA-256; the hash keys a bounded LRU of parsed and validated documents
//     that also holds each operation's depth, cache hint (@cacheControl)
//     and cost plan (@cost, @listSize), so a repeated query costs one hash,
//     one map lookup, the variable coercion (§6.1.2, with bounded lists) and
//     the evaluation of the cost plan against MaxCost. Every failure is an
//     *Error (or Errors) carrying a code: CodeParseFailed,
//     CodeValidationFailed, CodeBadUserInput, CodeTooComplex or CodeTooDeep.
//
//  3. Engine.Execute runs the Operation. Fields are collected (§6.3.2),
//     arguments are coerced once per request and shared between all list
//     items, resolvers are called (blocking ones on bounded, owned
//     goroutines) and the results are completed into a compact tree of
//     already-serialized leaves. A resolver may return a Thunk: it is forced
//     only once the whole level (every sibling and list item) has been
//     resolved, so that a dataloader batches a list's keys, and its value
//     is completed in the next level. Null propagation (§6.4.4) is settled in one
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
