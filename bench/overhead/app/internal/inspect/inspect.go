// Package inspect summarises a Go source file: its declarations and whether it
// type-checks on its own (imports are not resolved).
package inspect

import (
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"go/types"
	"sort"
)

// Summary is what the service reports for one file.
type Summary struct {
	Package   string         `json:"package"`
	Imports   []string       `json:"imports"`
	Funcs     []string       `json:"funcs"`
	Types     []string       `json:"types"`
	Counts    map[string]int `json:"counts"`
	TypeErrs  []string       `json:"typeErrors,omitempty"`
	Formatted bool           `json:"formatted"`
}

type noImports struct{}

func (noImports) Import(path string) (*types.Package, error) {
	return nil, fmt.Errorf("imports are not resolved (%s)", path)
}

// File parses and checks src, named name in messages.
func File(name string, src []byte) (*Summary, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	s := &Summary{Package: file.Name.Name, Counts: map[string]int{}}
	for _, imp := range file.Imports {
		s.Imports = append(s.Imports, imp.Path.Value)
	}
	ast.Inspect(file, func(n ast.Node) bool {
		switch d := n.(type) {
		case *ast.FuncDecl:
			s.Funcs = append(s.Funcs, d.Name.Name)
		case *ast.TypeSpec:
			s.Types = append(s.Types, d.Name.Name)
		}
		if n != nil {
			s.Counts[fmt.Sprintf("%T", n)[5:]]++
		}
		return true
	})
	sort.Strings(s.Funcs)
	sort.Strings(s.Types)

	conf := types.Config{Importer: noImports{}, Error: func(err error) {
		var terr types.Error
		if errors.As(err, &terr) && !terr.Soft {
			s.TypeErrs = append(s.TypeErrs, terr.Msg)
		}
	}}
	_, _ = conf.Check(file.Name.Name, fset, []*ast.File{file}, nil)

	formatted, err := format.Source(src)
	s.Formatted = err == nil && string(formatted) == string(src)
	return s, nil
}
