// pulumi-language-nodejs (shim): a minimal stand-in for Pulumi's nodejs language host, written for
// offline e2e tests where the real host's module (github.com/pulumi/pulumi/sdk/nodejs/cmd/
// pulumi-language-nodejs/v3, untagged) cannot be fetched. It implements only what `pulumi
// preview/up/destroy` need: GetRequiredPlugins, Run, GetPluginInfo. Everything else answers
// Unimplemented, which the engine tolerates (Handshake, GetRequiredPackages fall back).
// Run starts `node <program>/node_modules/@pulumi/pulumi/cmd/run` exactly like the real host:
// flags --monitor/--engine/--project/--stack/..., config in PULUMI_CONFIG (+ _SECRET_KEYS).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
)

var Version = "3.276.0"

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engine string
}

func main() {
	var engine string
	for _, a := range os.Args[1:] { // engine address is the last positional argument
		if !strings.HasPrefix(a, "-") {
			engine = a
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, &host{engine: engine})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func programDir(info *pulumirpc.ProgramInfo, pwd string) string {
	if info != nil && info.ProgramDirectory != "" {
		return info.ProgramDirectory
	}
	return pwd
}

func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	dir := programDir(req.Info, req.Pwd)
	seen := map[string]bool{}
	var out []*pulumirpc.PluginDependency
	root := filepath.Join(dir, "node_modules")
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "package.json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		var pj struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Pulumi  struct {
				Resource bool   `json:"resource"`
				Name     string `json:"name"`
				Version  string `json:"version"`
				Server   string `json:"server"`
			} `json:"pulumi"`
		}
		if json.Unmarshal(b, &pj) != nil || !pj.Pulumi.Resource {
			return nil
		}
		name := pj.Pulumi.Name
		if name == "" {
			name = strings.TrimPrefix(strings.TrimPrefix(pj.Name, "@pulumi/"), "@")
		}
		v := pj.Pulumi.Version
		if v == "" {
			v = pj.Version
		}
		if !strings.HasPrefix(v, "v") {
			v = "v" + v
		}
		if key := name + "@" + v; !seen[key] {
			seen[key] = true
			out = append(out, &pulumirpc.PluginDependency{Name: name, Kind: "resource", Version: v, Server: pj.Pulumi.Server})
		}
		return nil
	})
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: out}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := programDir(req.Info, req.Pwd)
	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runPath == "" {
		runPath = filepath.Join(dir, "node_modules", "@pulumi", "pulumi", "cmd", "run")
	}
	if _, err := os.Stat(runPath); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "@pulumi/pulumi not installed: %v", err)
	}
	args := []string{runPath}
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.MonitorAddress)
	add("engine", h.engine)
	add("organization", req.Organization)
	add("project", req.Project)
	add("stack", req.Stack)
	add("pwd", req.Pwd)
	if req.Info != nil {
		add("root-directory", req.Info.RootDirectory)
	}
	if req.DryRun {
		args = append(args, "--dry-run")
	}
	add("parallel", fmt.Sprint(req.Parallel))
	entry := "."
	if req.Info != nil && req.Info.EntryPoint != "" {
		entry = req.Info.EntryPoint
	} else if req.Program != "" {
		entry = req.Program
	}
	args = append(args, entry)
	args = append(args, req.Args...)

	cfg, _ := json.Marshal(req.Config)
	if req.Config == nil {
		cfg = []byte("{}")
	}
	secrets, _ := json.Marshal(req.ConfigSecretKeys)
	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfg), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	nodeArgs := []string{}
	typescript := true // the real host's default: ts-node is used unless options.typescript is false
	if req.Info != nil && req.Info.Options != nil {
		o := req.Info.Options.AsMap()
		if t, ok := o["typescript"].(bool); ok {
			typescript = t
		}
		if t, ok := o["tsconfig"].(string); ok && t != "" {
			env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+t)
		}
		if t, ok := o["nodeargs"].(string); ok && t != "" {
			nodeArgs = strings.Fields(t)
		}
	}
	env = append(env, fmt.Sprintf("PULUMI_NODEJS_TYPESCRIPT=%v", typescript))
	node := os.Getenv("PULUMI_NODEJS_BINARY")
	if node == "" {
		node = "node"
	}
	cmd := exec.CommandContext(ctx, node, append(nodeArgs, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			// 32 = the SDK already reported the error to the engine
			if ee.ExitCode() == 32 {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", ee.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}
