// pulumi-language-nodejs (shim): a minimal stand-in for Pulumi's nodejs language host, written for
// offline e2e tests where the real host's module (github.com/pulumi/pulumi/sdk/nodejs/cmd/
// pulumi-language-nodejs/v3, untagged) cannot be fetched. It implements only what `pulumi
// preview/up/destroy` need: GetRequiredPlugins (which, like the real host's, walks the whole
// program directory and follows symlinks), Run, GetPluginInfo, and RunPlugin for policy packs
// (`--policy-pack DIR` with runtime nodejs). Everything else answers Unimplemented, which the engine
// tolerates (Handshake, GetRequiredPackages fall back).
// Run starts `node <program>/node_modules/@pulumi/pulumi/cmd/run` exactly like the real host:
// flags --monitor/--engine/--project/--stack/..., config in PULUMI_CONFIG (+ _SECRET_KEYS).
// RunPlugin (kind "analyzer" only) does what the real host's does for a policy pack: it resolves
// @pulumi/pulumi/cmd/run-policy-pack from the pack's directory with Node's own lookup (so a pack
// with no node_modules of its own uses its parents'), serves the engine through the SDK's
// PolicyProxy until the engine's ConfigureStack arrives, then starts
// `node run-policy-pack <engine args...> <pack dir>` in the pack's directory with the stack's
// organization/project/stack/dry-run/config in PULUMI_NODEJS_* and PULUMI_CONFIG, and proxies
// the engine's Analyzer calls to it. Other plugin kinds (nodejs resource providers) are refused.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3"
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
	plugins, _ := pluginsFromDir(programDir(req.Info, req.Pwd), false, map[string]bool{})
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// pluginsFromDir walks the whole program directory as the real host's getPluginsFromDir does:
// every subdirectory, following symlinks (each entry is stat'ed, not lstat'ed), reading the
// package.json files that sit anywhere below a node_modules directory. Entries it cannot read
// (a dangling link) are collected as errors and skipped; the real host only logs them.
func pluginsFromDir(dir string, inNodeModules bool, seen map[string]bool) ([]*pulumirpc.PluginDependency, []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{fmt.Errorf("reading plugin dir %s: %w", dir, err)}
	}
	var plugins []*pulumirpc.PluginDependency
	var errs []error
	for _, entry := range entries {
		curr := filepath.Join(dir, entry.Name())
		info, err := os.Stat(curr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if info.IsDir() {
			more, moreErrs := pluginsFromDir(curr, inNodeModules || filepath.Base(dir) == "node_modules", seen)
			plugins, errs = append(plugins, more...), append(errs, moreErrs...)
		} else if inNodeModules && entry.Name() == "package.json" {
			if dep := pluginOf(curr); dep != nil && !seen[dep.Name+"@"+dep.Version] {
				seen[dep.Name+"@"+dep.Version] = true
				plugins = append(plugins, dep)
			}
		}
	}
	return plugins, errs
}

// pluginOf reads a package.json that declares a resource plugin (`"pulumi": {"resource": true}`).
func pluginOf(file string) *pulumirpc.PluginDependency {
	b, err := os.ReadFile(file)
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
	return &pulumirpc.PluginDependency{Name: name, Kind: "resource", Version: v, Server: pj.Pulumi.Server}
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
	var options map[string]any
	if req.Info != nil && req.Info.Options != nil {
		options = req.Info.Options.AsMap()
	}
	env, nodeArgs, typescript := runtimeOptions(options, env)
	env = append(env, fmt.Sprintf("PULUMI_NODEJS_TYPESCRIPT=%v", typescript))
	cmd := exec.CommandContext(ctx, nodeBinary(), append(nodeArgs, args...)...)
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

// runtimeOptions reads Pulumi.yaml's runtime options as the real host does: typescript (ts-node
// unless false), tsconfig (added to env) and nodeargs.
func runtimeOptions(options map[string]any, env []string) ([]string, []string, bool) {
	var nodeArgs []string
	typescript := true
	if t, ok := options["typescript"].(bool); ok {
		typescript = t
	}
	if t, ok := options["tsconfig"].(string); ok && t != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+t)
	}
	if t, ok := options["nodeargs"].(string); ok && t != "" {
		nodeArgs = strings.Fields(t)
	}
	return env, nodeArgs, typescript
}

// nodeBinary is PULUMI_NODEJS_BINARY, else node from PATH.
func nodeBinary() string {
	if node := os.Getenv("PULUMI_NODEJS_BINARY"); node != "" {
		return node
	}
	return "node"
}

// RunPlugin runs a nodejs policy pack (the engine's AnalyzerPlugin kind) the way the real host does.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	if req.Kind != "analyzer" {
		return status.Errorf(codes.Unimplemented, "stand-in nodejs host: RunPlugin supports policy packs only, not %q plugins", req.Kind)
	}
	if req.Info == nil || req.Info.ProgramDirectory == "" {
		return status.Error(codes.InvalidArgument, "RunPlugin: no program directory")
	}
	ctx := server.Context()
	dir := req.Info.ProgramDirectory
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	node, err := exec.LookPath(nodeBinary())
	if err != nil {
		return err
	}
	runPath, err := locateModule(ctx, node, dir, "@pulumi/pulumi/cmd/run-policy-pack")
	if err != nil {
		return err
	}

	var options map[string]any
	if req.Info.Options != nil {
		options = req.Info.Options.AsMap()
	}
	env, nodeArgs, typescript := runtimeOptions(options, append([]string{}, req.Env...))
	if typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	// run-policy-pack takes <engine address> <program>: the engine's arguments (logging flags, the
	// engine address) come first, the pack's directory last.
	args := append(append(append(nodeArgs, runPath), req.Args...), dir)

	// The engine sends the stack's identity in ConfigureStack, over gRPC; @pulumi/policy reads it
	// from the environment. So, like the real host, answer the engine first through the SDK's
	// proxy, then start the pack with that in its environment and proxy the rest to it.
	proxy, proxyStdout, err := sdk.NewPolicyProxy(ctx, stdout)
	if err != nil {
		return fmt.Errorf("could not start policy pack proxy: %w", err)
	}
	config, err := proxy.AwaitConfiguration(ctx)
	if err != nil {
		return fmt.Errorf("could not get stack configuration: %w", err)
	}
	if config != nil {
		set := func(k, v string) {
			if v != "" {
				env = append(env, k+"="+v)
			}
		}
		set("PULUMI_NODEJS_ORGANIZATION", config.Organization)
		set("PULUMI_NODEJS_PROJECT", config.Project)
		set("PULUMI_NODEJS_STACK", config.Stack)
		set("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(config.DryRun))
		if config.Config != nil {
			b, err := json.Marshal(config.Config)
			if err != nil {
				return fmt.Errorf("could not marshal stack configuration: %w", err)
			}
			set("PULUMI_CONFIG", string(b))
		}
	}

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir // policy packs have always run in their own directory
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = proxyStdout, stderr
	if err := cmd.Start(); err != nil {
		proxy.Abort(err)
		return fmt.Errorf("could not start the policy pack: %w", err)
	}
	if err := proxy.Attach(ctx, cmd); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("Program exited with non-zero exit code: %d", ee.ExitCode())
		}
		return fmt.Errorf("policy pack: %w", err)
	}
	return closer.Close()
}

// locateModule resolves a module the way Node would from dir, parent node_modules included.
func locateModule(ctx context.Context, node, dir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, node, "-e", "console.log(require.resolve(process.argv[1]))", module)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("cannot find module '%s' from %s (is @pulumi/pulumi installed for the policy pack?): %v: %s",
			module, dir, err, strings.TrimSpace(errOut.String()))
	}
	return strings.TrimSpace(out.String()), nil
}
