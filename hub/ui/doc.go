// Package ui is the hub's web console (docs/console.md): server-rendered
// html/template pages, their embedded stylesheet, inline SVG plots, the
// in-memory sessions of the console's logins with their CSRF tokens, and
// the parsers of the console's query strings and form posts.
//
// The package knows nothing of the hub's state or its authority: package
// hub authenticates each request with the API's own token rules, decides
// every view and action with the API's own RBAC table, reads the state
// into the page types of this package and calls Render. Every page works
// without JavaScript (the console ships none) under a Content-Security-
// Policy that allows nothing but the console's own stylesheet.
package ui
