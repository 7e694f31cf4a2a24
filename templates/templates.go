// Package templates holds the report templates, embedded in the binary so
// a report never depends on files beside it.
package templates

import "embed"

// FS holds report.html.tmpl.
//
//go:embed *.tmpl
var FS embed.FS
