// Package deps names the standard-library packages the service is built on. The image's
// first compile step builds only this package, so compiling the standard library for the
// target architecture (the bulk of a cold build) is one cached layer that a change to the
// service's own code never invalidates.
package deps

import (
	_ "archive/zip"
	_ "compress/gzip"
	_ "crypto/tls"
	_ "encoding/json"
	_ "flag"
	_ "go/ast"
	_ "go/format"
	_ "go/parser"
	_ "go/token"
	_ "go/types"
	_ "html/template"
	_ "log/slog"
	_ "net/http"
	_ "net/http/httputil"
	_ "regexp"
	_ "sort"
	_ "strings"
	_ "sync"
	_ "text/template"
	_ "time"
)
