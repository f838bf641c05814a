// Tests of the nodejs language host stand-in (go test; e2e/standins/test.sh).
package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func write(t *testing.T, file, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRequiredPluginsComeFromTheWholeProgramDirectoryThroughSymlinks(t *testing.T) {
	program, shared := t.TempDir(), t.TempDir()
	// The program's node_modules is a link (as in the acceptance run's copy of the checkout).
	write(t, filepath.Join(shared, "node_modules", "@pulumi", "command", "package.json"), `{"name": "@pulumi/command", "version": "1.2.1", "pulumi": {"resource": true}}`)
	write(t, filepath.Join(shared, "node_modules", "@pulumi", "pulumi", "package.json"), `{"name": "@pulumi/pulumi", "version": "3.276.0"}`)
	if err := os.Symlink(filepath.Join(shared, "node_modules"), filepath.Join(program, "node_modules")); err != nil {
		t.Fatal(err)
	}
	// A nested package's own node_modules, outside the top-level one, is found too.
	write(t, filepath.Join(program, "e2e", "policy", "node_modules", "@pulumi", "aws", "package.json"), `{"name": "@pulumi/aws", "version": "7.1.0", "pulumi": {"resource": true, "name": "aws"}}`)
	// A package.json outside any node_modules is the program's own, not a plugin.
	write(t, filepath.Join(program, "package.json"), `{"name": "app", "version": "1.0.0", "pulumi": {"resource": true}}`)
	// A dangling link is skipped, as the real host only logs it.
	if err := os.Symlink(filepath.Join(program, "missing"), filepath.Join(program, "dangling")); err != nil {
		t.Fatal(err)
	}
	resp, err := (&host{}).GetRequiredPlugins(context.Background(), &pulumirpc.GetRequiredPluginsRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: program}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.Plugins {
		got = append(got, p.Name+"@"+p.Version)
	}
	sort.Strings(got)
	if len(got) != 2 || got[0] != "aws@v7.1.0" || got[1] != "command@v1.2.1" {
		t.Fatalf("plugins = %q", got)
	}
}
