// pulumi-language-nodejs (shim): a minimal stand-in for Pulumi's nodejs language host, written for
// offline e2e tests where the real host's module (github.com/pulumi/pulumi/sdk/nodejs/cmd/
// pulumi-language-nodejs/v3, untagged) cannot be fetched. It implements what `pulumi
// preview/up/destroy` need, the way the real host does wherever a program can tell (provider
// notes, "The real nodejs language host"):
//   - GetRequiredPackages walks the whole program directory, following symlinks to where they
//     resolve, each directory once, and skips nested policy packs; GetRequiredPlugins answers
//     Unimplemented (the engine asks GetRequiredPackages first);
//   - Run finds @pulumi/pulumi/cmd/run with Node's own lookup from the program's directory
//     (parent node_modules too) and starts it with --monitor/--engine/--project/--stack/--pwd/...,
//     config in PULUMI_CONFIG (+ _SECRET_KEYS); on Cancel (or the end of the request) the program
//     gets SIGINT, and SIGKILL 5 s later;
//   - GetPluginInfo, Cancel, and RunPlugin for policy packs (`--policy-pack DIR`, runtime nodejs).
//
// Everything else answers Unimplemented, which the engine tolerates.
// RunPlugin (kind "analyzer" only) does what the real host's does for a policy pack: it resolves
// @pulumi/pulumi/cmd/run-policy-pack from the pack's directory with Node's own lookup (so a pack
// with no node_modules of its own uses its parents'), serves the engine through the SDK's
// PolicyProxy until the engine's ConfigureStack arrives, then starts
// `node run-policy-pack <engine args...> <pack dir>` in the pack's directory with the stack's
// organization/project/stack/dry-run/config in PULUMI_NODEJS_* and PULUMI_CONFIG, and proxies
// the engine's Analyzer calls to it. Other plugin kinds (nodejs resource providers) are refused.
// Config keys reach the program as `<namespace>:config:<name>`, as the real host passes them.
// Still different: no resource-monitor proxy, no --sync pipes (synchronous invokes) or --tracing.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
)

var Version = "3.276.0"

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engine string
	// cancelCtx ends with the Cancel RPC, for the program running and any that start after.
	cancelCtx  context.Context
	cancelFunc context.CancelFunc
}

// cancelWait is how long a cancelled program gets after SIGINT before it is killed.
const cancelWait = 5 * time.Second

func newHost(engine string) *host {
	ctx, cancel := context.WithCancel(context.Background())
	return &host{engine: engine, cancelCtx: ctx, cancelFunc: cancel}
}

// Cancel stops the running program as the real host's does: SIGINT, then SIGKILL after cancelWait.
func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelFunc()
	return &emptypb.Empty{}, nil
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
			pulumirpc.RegisterLanguageRuntimeServer(s, newHost(engine))
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

// GetRequiredPlugins is Unimplemented, as in the real host: the engine asks GetRequiredPackages
// first and falls back to this only when that is Unimplemented (pulumi v3.276.0,
// sdk/go/common/resource/plugin/langruntime_plugin.go `GetRequiredPackages`).
func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return nil, status.Errorf(codes.Unimplemented, "method GetRequiredPlugins not implemented")
}

// GetRequiredPackages answers with every resource plugin a package.json below a node_modules
// directory of the program declares. Errors on the way are only logged by the real host.
func (h *host) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	packages, _ := packagesFromDir(programDir(req.Info, ""), false, map[string]bool{})
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

// policyPackFiles are the names that make a directory a policy pack (PulumiPolicy plus one of
// the workspace encodings), whose plugins are not the program's.
var policyPackFiles = []string{"PulumiPolicy.json", "PulumiPolicy.yml", "PulumiPolicy.yaml"}

func isPolicyPack(dir string) bool {
	for _, name := range policyPackFiles {
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil && !info.IsDir() {
			return true
		}
	}
	return false
}

// packagesFromDir walks the whole program directory as the real host's getPackagesFromDir does:
// every subdirectory, a symlink by the path it resolves to, each directory once (so a link loop
// ends), except nested policy packs; it reads the package.json files below a node_modules
// directory. Entries it cannot read (a dangling link) are collected as errors and skipped.
func packagesFromDir(dir string, inNodeModules bool, visited map[string]bool) ([]*pulumirpc.PackageDependency, []error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, []error{err}
	}
	if visited[dir] {
		return nil, nil
	}
	visited[dir] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{fmt.Errorf("reading plugin dir %s: %w", dir, err)}
	}
	var packages []*pulumirpc.PackageDependency
	var errs []error
	for _, entry := range entries {
		curr := filepath.Join(dir, entry.Name())
		isDir := entry.IsDir()
		if entry.Type()&fs.ModeSymlink != 0 {
			resolved, err := filepath.EvalSymlinks(curr)
			if err != nil {
				errs = append(errs, fmt.Errorf("resolving link in plugin dir %s: %w", curr, err))
				continue
			}
			info, err := os.Stat(resolved)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			curr, isDir = resolved, info.IsDir()
		}
		if isDir {
			if isPolicyPack(curr) {
				continue
			}
			more, moreErrs := packagesFromDir(curr, inNodeModules || filepath.Base(dir) == "node_modules", visited)
			packages, errs = append(packages, more...), append(errs, moreErrs...)
		} else if inNodeModules && entry.Name() == "package.json" {
			dep, err := packageOf(curr)
			if err != nil {
				errs = append(errs, err)
			} else if dep != nil {
				packages = append(packages, dep)
			}
		}
	}
	return packages, errs
}

// packageOf reads a package.json that declares a resource plugin (`"pulumi": {"resource": true}`):
// its name is pulumi.name, else the package's name without `@pulumi/` (a third-party package
// must give pulumi.name); its version pulumi.version, else the package's, with a `v`.
func packageOf(file string) (*pulumirpc.PackageDependency, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading package.json %s: %w", file, err)
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
	if err := json.Unmarshal(b, &pj); err != nil {
		return nil, fmt.Errorf("unmarshaling package.json %s: %w", file, err)
	}
	if !pj.Pulumi.Resource {
		return nil, nil
	}
	name := pj.Pulumi.Name
	if name == "" {
		if !strings.HasPrefix(pj.Name, "@pulumi/") {
			return nil, fmt.Errorf("unmarshaling package.json %s: Missing property \"name\" for the third-party plugin '%v' inside package.json under the \"pulumi\" section.", file, pj.Name)
		}
		name = strings.TrimPrefix(pj.Name, "@pulumi/")
	}
	v := pj.Pulumi.Version
	if v == "" {
		v = pj.Version
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: v, Server: pj.Pulumi.Server}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	dir := programDir(req.Info, req.Pwd)
	node, err := exec.LookPath(nodeBinary())
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not find %s on the $PATH: %s", nodeBinary(), err)}, nil
	}
	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runPath == "" {
		runPath = "@pulumi/pulumi/cmd/run"
	}
	// Node's own lookup from the program's directory, so a parent's node_modules counts.
	if runPath, err = locateModule(ctx, node, dir, runPath, false); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
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
	add("pwd", dir)
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

	// Keys as `<namespace>:config:<name>`, the form older SDKs read, as the real host passes them.
	legacy := make(map[string]string, len(req.Config))
	for k, v := range req.Config {
		key, err := config.ParseKey(k)
		if err != nil {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("failed to serialize configuration: %v", err)}, nil
		}
		legacy[key.Namespace()+":config:"+key.Name()] = v
	}
	cfg, _ := json.Marshal(legacy)
	secrets, _ := json.Marshal(req.ConfigSecretKeys)
	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfg), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	var options map[string]any
	if req.Info != nil && req.Info.Options != nil {
		options = req.Info.Options.AsMap()
	}
	env, nodeArgs, typescript := runtimeOptions(options, env)
	env = append(env, fmt.Sprintf("PULUMI_NODEJS_TYPESCRIPT=%v", typescript))
	// Cancelled by the Cancel RPC or by the end of the request, as the real host's execRuntime:
	// SIGINT first, so the SDK can stop cleanly, and SIGKILL only 5 s later.
	cmdCtx, cmdCancel := context.WithCancel(h.cancelCtx)
	defer cmdCancel()
	stop := context.AfterFunc(ctx, cmdCancel)
	defer stop()
	cmd := exec.CommandContext(cmdCtx, node, append(nodeArgs, args...)...)
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = cancelWait
	cmd.Dir = dir
	cmd.Env = env
	// Wrapped, as the real host does: node may change the blocking mode of a file it inherits.
	cmd.Stdout, cmd.Stderr = struct{ io.Writer }{os.Stdout}, struct{ io.Writer }{os.Stderr}
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
	runPath, err := locateModule(ctx, node, dir, "@pulumi/pulumi/cmd/run-policy-pack", true)
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

// locateModule resolves a module the way Node would from dir, parent node_modules included, as
// the real host's locateModule does (`require.resolve` in a node started in dir); when the
// module is missing, the error is its message.
func locateModule(ctx context.Context, node, dir, module string, isPlugin bool) (string, error) {
	install := "pulumi install"
	if isPlugin {
		install = "npm install in " + dir
	}
	script := `try { console.log(require.resolve(process.argv[1])); } catch (error) {` +
		` console.error(error.code === "MODULE_NOT_FOUND" ? "It looks like the Pulumi SDK has not been installed. Have you run " + process.argv[2] + "?" : error.message);` +
		` process.exit(1); }`
	cmd := exec.CommandContext(ctx, node, "-e", script, module, install)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", errors.New(errOut.String())
		}
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}
