// Tests of the nodejs language host stand-in (go test; e2e/standins/test.sh).
package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
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

func TestRequiredPackagesComeFromTheWholeProgramDirectoryThroughSymlinks(t *testing.T) {
	program, shared := t.TempDir(), t.TempDir()
	// The program's node_modules is a link (as in the acceptance run's copy of the checkout).
	write(t, filepath.Join(shared, "node_modules", "@pulumi", "command", "package.json"), `{"name": "@pulumi/command", "version": "1.2.1", "pulumi": {"resource": true}}`)
	write(t, filepath.Join(shared, "node_modules", "@pulumi", "pulumi", "package.json"), `{"name": "@pulumi/pulumi", "version": "3.276.0"}`)
	if err := os.Symlink(filepath.Join(shared, "node_modules"), filepath.Join(program, "node_modules")); err != nil {
		t.Fatal(err)
	}
	// A second link to the same place is walked once, and a link back up ends.
	if err := os.Symlink(filepath.Join(shared, "node_modules"), filepath.Join(program, "again")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(program, filepath.Join(shared, "node_modules", "loop")); err != nil {
		t.Fatal(err)
	}
	// A nested package's own node_modules, outside the top-level one, is found too.
	write(t, filepath.Join(program, "e2e", "app", "node_modules", "@pulumi", "aws", "package.json"), `{"name": "@pulumi/aws", "version": "7.1.0", "pulumi": {"resource": true, "name": "aws"}}`)
	// A package.json outside any node_modules is the program's own, not a plugin.
	write(t, filepath.Join(program, "package.json"), `{"name": "app", "version": "1.0.0", "pulumi": {"resource": true}}`)
	// A dangling link is skipped, as the real host only logs it.
	if err := os.Symlink(filepath.Join(program, "missing"), filepath.Join(program, "dangling")); err != nil {
		t.Fatal(err)
	}
	resp, err := newHost("").GetRequiredPackages(context.Background(), &pulumirpc.GetRequiredPackagesRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: program}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(resp.Packages); strings.Join(got, ",") != "aws@v7.1.0,command@v1.2.1" {
		t.Fatalf("packages = %q", got)
	}
}

func TestRequiredPluginsIsUnimplementedSoTheEngineAsksForPackages(t *testing.T) {
	_, err := newHost("").GetRequiredPlugins(context.Background(), &pulumirpc.GetRequiredPluginsRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("err = %v, want Unimplemented", err)
	}
}

func TestNestedPolicyPacksAreSkipped(t *testing.T) {
	program := t.TempDir()
	write(t, filepath.Join(program, "node_modules", "@pulumi", "command", "package.json"), `{"name": "@pulumi/command", "version": "1.2.1", "pulumi": {"resource": true}}`)
	for _, file := range policyPackFiles {
		pack := filepath.Join(program, "packs", strings.ToLower(file))
		write(t, filepath.Join(pack, file), "runtime: nodejs\n")
		write(t, filepath.Join(pack, "node_modules", "@pulumi", "aws", "package.json"), `{"name": "@pulumi/aws", "version": "7.1.0", "pulumi": {"resource": true}}`)
	}
	// A directory named like the file does not make a pack.
	write(t, filepath.Join(program, "notapack", "PulumiPolicy.yaml", "x"), "")
	write(t, filepath.Join(program, "notapack", "node_modules", "@pulumi", "tls", "package.json"), `{"name": "@pulumi/tls", "version": "5.6.1", "pulumi": {"resource": true}}`)
	resp, err := newHost("").GetRequiredPackages(context.Background(), &pulumirpc.GetRequiredPackagesRequest{Info: &pulumirpc.ProgramInfo{ProgramDirectory: program}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(resp.Packages); strings.Join(got, ",") != "command@v1.2.1,tls@v5.6.1" {
		t.Fatalf("packages = %q, want the policy packs' own left out", got)
	}
}

func names(packages []*pulumirpc.PackageDependency) []string {
	var got []string
	for _, p := range packages {
		got = append(got, p.Name+"@"+p.Version)
	}
	sort.Strings(got)
	return got
}

// fakeRun installs a @pulumi/pulumi/cmd/run under root/node_modules that records its arguments
// in $NBF_TEST_OUT and then runs $NBF_TEST_BEHAVIOUR (JavaScript).
func fakeRun(t *testing.T, root string) {
	t.Helper()
	write(t, filepath.Join(root, "node_modules", "@pulumi", "pulumi", "package.json"), `{"name": "@pulumi/pulumi", "version": "3.276.0"}`)
	write(t, filepath.Join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run", "index.js"),
		`require("fs").writeFileSync(process.env.NBF_TEST_OUT, JSON.stringify({args: process.argv.slice(2), config: process.env.PULUMI_CONFIG}) + "\n");`+
			` eval(process.env.NBF_TEST_BEHAVIOUR || "");`)
}

func runRequest(dir string) *pulumirpc.RunRequest {
	return &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:1", Project: "app", Stack: "dev", Pwd: dir,
		Config: map[string]string{"app:hosts": "[]"},
		Info:   &pulumirpc.ProgramInfo{ProgramDirectory: dir, RootDirectory: dir, EntryPoint: "."},
	}
}

func TestRunFindsTheSDKWithNodesOwnLookupInAParentNodeModules(t *testing.T) {
	root := t.TempDir()
	fakeRun(t, root)
	program := filepath.Join(root, "stacks", "app")
	write(t, filepath.Join(program, "index.js"), "")
	out := filepath.Join(t.TempDir(), "out")
	t.Setenv("NBF_TEST_OUT", out)
	t.Setenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH", "")
	resp, err := newHost("127.0.0.1:2").Run(context.Background(), runRequest(program))
	if err != nil || resp.Error != "" {
		t.Fatalf("run: %v %q", err, resp.GetError())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Args   []string `json:"args"`
		Config string   `json:"config"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	args := strings.Join(got.Args, " ")
	for _, want := range []string{"--monitor 127.0.0.1:1", "--engine 127.0.0.1:2", "--pwd " + program, "--stack dev"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if got.Config != `{"app:config:hosts":"[]"}` {
		t.Errorf("PULUMI_CONFIG = %s, want the keys as <namespace>:config:<name>", got.Config)
	}

	// Without the SDK anywhere up the tree, the real host's message.
	bare := t.TempDir()
	resp, err = newHost("").Run(context.Background(), runRequest(bare))
	if err != nil || !strings.Contains(resp.Error, "It looks like the Pulumi SDK has not been installed. Have you run pulumi install?") {
		t.Fatalf("without the SDK: %v %q", err, resp.GetError())
	}
}

// cancelledRun starts a program that runs `behaviour`, cancels it through the Cancel RPC once it
// started, and returns how long Run took from the cancel and what the program recorded.
func cancelledRun(t *testing.T, behaviour string) (time.Duration, string) {
	t.Helper()
	root := t.TempDir()
	fakeRun(t, root)
	out := filepath.Join(t.TempDir(), "out")
	t.Setenv("NBF_TEST_OUT", out)
	t.Setenv("NBF_TEST_BEHAVIOUR", behaviour)
	t.Setenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH", "")
	h := newHost("")
	done := make(chan *pulumirpc.RunResponse, 1)
	go func() {
		resp, _ := h.Run(context.Background(), runRequest(root))
		done <- resp
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(out); strings.Contains(string(b), "ready") || time.Now().After(deadline) {
			break
		}
	}
	cancelled := time.Now()
	if _, err := h.Cancel(context.Background(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return 20 s after Cancel")
	}
	b, _ := os.ReadFile(out)
	return time.Since(cancelled), string(b)
}

func TestCancelSendsSIGINTAndKillsOnlyAfterFiveSeconds(t *testing.T) {
	// A program that handles SIGINT finishes its own way, at once.
	took, got := cancelledRun(t, `process.on("SIGINT", () => { require("fs").appendFileSync(process.env.NBF_TEST_OUT, "SIGINT\n"); process.exit(3); });`+
		` require("fs").appendFileSync(process.env.NBF_TEST_OUT, "ready\n"); setInterval(() => {}, 1000);`)
	if !strings.Contains(got, "SIGINT") || took > 3*time.Second {
		t.Fatalf("a program that handles SIGINT: took %v, recorded %q", took, got)
	}
	// One that ignores it is killed 5 s later, not before.
	took, _ = cancelledRun(t, `process.on("SIGINT", () => {}); require("fs").appendFileSync(process.env.NBF_TEST_OUT, "ready\n"); setInterval(() => {}, 1000);`)
	if took < cancelWait-200*time.Millisecond || took > cancelWait+5*time.Second {
		t.Fatalf("a program that ignores SIGINT ended %v after Cancel, want about %v", took, cancelWait)
	}
}
