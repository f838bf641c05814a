// pulumi-resource-command (STAND-IN). NOT the real pulumi-command provider: the Go module proxy here
// refuses github.com/pulumi/pulumi-command/provider (404 for v1.2.1, 403 for its commit), so this
// minimal provider lets the @pulumi/command 1.2.1 SDK run through the real engine in offline e2e
// tests. It implements command:local:Command, command:remote:Command and the command:local:run
// invoke with the documented basics only:
// create/update/delete scripts, environment (added to the inherited one), dir, interpreter, stdin,
// triggers (any change => replace), addPreviousOutputInEnv (PULUMI_COMMAND_STDOUT/STDERR), and
// outputs stdout/stderr. Remote: connection {host, port (22), user (root), password, privateKey,
// hostKey (required here), dialErrorLimit (10, -1 = unlimited), perDialTimeout (15 s)}.
// Commands do not run during preview. Anything else (logging, assets, CopyToRemote, proxies) is absent.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"golang.org/x/crypto/ssh"
)

var Version = "1.2.1"

type base struct {
	Create                 *string           `pulumi:"create,optional"`
	Update                 *string           `pulumi:"update,optional"`
	Delete                 *string           `pulumi:"delete,optional"`
	Environment            map[string]string `pulumi:"environment,optional"`
	Stdin                  *string           `pulumi:"stdin,optional"`
	Triggers               []any             `pulumi:"triggers,optional" provider:"replaceOnChanges"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
	Logging                *string           `pulumi:"logging,optional"`
}

// ---- local.Command ----
type Local struct{}
type LocalArgs struct {
	base
	Dir         *string  `pulumi:"dir,optional"`
	Interpreter []string `pulumi:"interpreter,optional"`
}
type LocalState struct {
	LocalArgs
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

func (*Local) Annotate(a infer.Annotator) { a.SetToken("local", "Command") }

func runLocal(ctx context.Context, in LocalArgs, script string, prev *LocalState) (string, string, error) {
	interp := in.Interpreter
	if len(interp) == 0 {
		interp = []string{"/bin/sh", "-c"}
	}
	cmd := exec.CommandContext(ctx, interp[0], append(interp[1:], script)...)
	cmd.Env = os.Environ()
	for k, v := range in.Environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if prev != nil && (in.AddPreviousOutputInEnv == nil || *in.AddPreviousOutputInEnv) {
		cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDOUT="+prev.Stdout, "PULUMI_COMMAND_STDERR="+prev.Stderr)
	}
	if in.Dir != nil {
		cmd.Dir = *in.Dir
	}
	if in.Stdin != nil {
		cmd.Stdin = strings.NewReader(*in.Stdin)
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	out, serr := strings.TrimSuffix(so.String(), "\n"), strings.TrimSuffix(se.String(), "\n")
	if err != nil {
		return out, serr, fmt.Errorf("%w: running %q:\n%s\n%s", err, script, out, serr)
	}
	return out, serr, nil
}

func (*Local) Create(ctx context.Context, req infer.CreateRequest[LocalArgs]) (infer.CreateResponse[LocalState], error) {
	st := LocalState{LocalArgs: req.Inputs}
	id := fmt.Sprintf("%s-%d", req.Name, time.Now().UnixNano())
	if req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[LocalState]{ID: id, Output: st}, nil
	}
	var err error
	st.Stdout, st.Stderr, err = runLocal(ctx, req.Inputs, *req.Inputs.Create, nil)
	return infer.CreateResponse[LocalState]{ID: id, Output: st}, err
}

func (*Local) Update(ctx context.Context, req infer.UpdateRequest[LocalArgs, LocalState]) (infer.UpdateResponse[LocalState], error) {
	st := LocalState{LocalArgs: req.Inputs, Stdout: req.State.Stdout, Stderr: req.State.Stderr}
	script := req.Inputs.Update
	if script == nil {
		script = req.Inputs.Create
	}
	if req.DryRun || script == nil {
		return infer.UpdateResponse[LocalState]{Output: st}, nil
	}
	var err error
	st.Stdout, st.Stderr, err = runLocal(ctx, req.Inputs, *script, &req.State)
	return infer.UpdateResponse[LocalState]{Output: st}, err
}

func (*Local) Delete(ctx context.Context, req infer.DeleteRequest[LocalState]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, _, err := runLocal(ctx, req.State.LocalArgs, *req.State.Delete, &req.State)
	return infer.DeleteResponse{}, err
}

// ---- local.run (invoke; runs on every program execution, previews included) ----
type Run struct{}
type RunArgs struct {
	Command     string            `pulumi:"command"`
	Dir         *string           `pulumi:"dir,optional"`
	Environment map[string]string `pulumi:"environment,optional"`
	Interpreter []string          `pulumi:"interpreter,optional"`
	Stdin       *string           `pulumi:"stdin,optional"`
	Logging     *string           `pulumi:"logging,optional"`
}
type RunResult struct {
	RunArgs
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

func (*Run) Annotate(a infer.Annotator) { a.SetToken("local", "run") }

func (*Run) Invoke(ctx context.Context, req infer.FunctionRequest[RunArgs]) (infer.FunctionResponse[RunResult], error) {
	in := LocalArgs{base: base{Environment: req.Input.Environment, Stdin: req.Input.Stdin}, Dir: req.Input.Dir, Interpreter: req.Input.Interpreter}
	out, serr, err := runLocal(ctx, in, req.Input.Command, nil)
	if err != nil {
		// Like the real provider, report the command's stderr, never its script or stdin.
		return infer.FunctionResponse[RunResult]{}, fmt.Errorf("local.run failed: %v\n%s", errors.Unwrap(err), serr)
	}
	return infer.FunctionResponse[RunResult]{Output: RunResult{RunArgs: req.Input, Stdout: out, Stderr: serr}}, nil
}

// ---- remote.Command ----
type Connection struct {
	Host           string   `pulumi:"host"`
	Port           *float64 `pulumi:"port,optional"`
	User           *string  `pulumi:"user,optional"`
	Password       *string  `pulumi:"password,optional" provider:"secret"`
	PrivateKey     *string  `pulumi:"privateKey,optional" provider:"secret"`
	HostKey        *string  `pulumi:"hostKey,optional"`
	DialErrorLimit *int     `pulumi:"dialErrorLimit,optional"`
	PerDialTimeout *int     `pulumi:"perDialTimeout,optional"`
}

func (c *Connection) Annotate(a infer.Annotator) { a.SetToken("remote", "Connection") }

type Remote struct{}
type RemoteArgs struct {
	base
	Connection Connection `pulumi:"connection" provider:"secret"`
}
type RemoteState struct {
	RemoteArgs
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

func (*Remote) Annotate(a infer.Annotator) { a.SetToken("remote", "Command") }

func dial(ctx context.Context, c Connection) (*ssh.Client, error) {
	user, port := "root", 22.0
	if c.User != nil {
		user = *c.User
	}
	if c.Port != nil {
		port = *c.Port
	}
	// Stricter than the real provider, which skips verification without hostKey: this
	// program always pins host keys, so a connection without one is a bug to surface.
	if c.HostKey == nil || *c.HostKey == "" {
		return nil, errors.New("connection.hostKey is not set; this stand-in refuses unverified hosts")
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
	if err != nil {
		return nil, fmt.Errorf("hostKey: %w", err)
	}
	cfg := &ssh.ClientConfig{User: user, HostKeyCallback: ssh.FixedHostKey(pk)}
	if c.PrivateKey != nil {
		s, err := ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("privateKey: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(s))
	}
	if c.Password != nil {
		cfg.Auth = append(cfg.Auth, ssh.Password(*c.Password))
	}
	limit, per := 10, 15
	if c.DialErrorLimit != nil {
		limit = *c.DialErrorLimit
	}
	if c.PerDialTimeout != nil {
		per = *c.PerDialTimeout
	}
	cfg.Timeout = time.Duration(per) * time.Second
	addr := net.JoinHostPort(c.Host, fmt.Sprint(int(port)))
	var lastErr error
	for i := 0; limit < 0 || i < limit; i++ {
		cl, err := ssh.Dial("tcp", addr, cfg)
		if err == nil {
			return cl, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil, fmt.Errorf("dial %s: %d attempts failed: %w", addr, limit, lastErr)
}

func runRemote(ctx context.Context, in RemoteArgs, script string, prev *RemoteState) (string, string, error) {
	cl, err := dial(ctx, in.Connection)
	if err != nil {
		return "", "", err
	}
	defer cl.Close()
	s, err := cl.NewSession()
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	env := map[string]string{}
	for k, v := range in.Environment {
		env[k] = v
	}
	if prev != nil && (in.AddPreviousOutputInEnv == nil || *in.AddPreviousOutputInEnv) {
		env["PULUMI_COMMAND_STDOUT"], env["PULUMI_COMMAND_STDERR"] = prev.Stdout, prev.Stderr
	}
	for k, v := range env { // needs AcceptEnv on the server; like the real provider, warn and go on
		if err := s.Setenv(k, v); err != nil {
			p.GetLogger(ctx).Warningf("unable to set %s: the SSH server must accept it with AcceptEnv", k)
		}
	}
	if in.Stdin != nil {
		s.Stdin = strings.NewReader(*in.Stdin)
	}
	var so, se bytes.Buffer
	s.Stdout, s.Stderr = &so, &se
	err = s.Run(script)
	out, serr := strings.TrimSuffix(so.String(), "\n"), strings.TrimSuffix(se.String(), "\n")
	if err != nil {
		return out, serr, fmt.Errorf("%w: running %q:\n%s\n%s", err, script, out, serr)
	}
	return out, serr, nil
}

func (*Remote) Create(ctx context.Context, req infer.CreateRequest[RemoteArgs]) (infer.CreateResponse[RemoteState], error) {
	st := RemoteState{RemoteArgs: req.Inputs}
	id := fmt.Sprintf("%s-%d", req.Name, time.Now().UnixNano())
	if req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[RemoteState]{ID: id, Output: st}, nil
	}
	var err error
	st.Stdout, st.Stderr, err = runRemote(ctx, req.Inputs, *req.Inputs.Create, nil)
	return infer.CreateResponse[RemoteState]{ID: id, Output: st}, err
}

func (*Remote) Update(ctx context.Context, req infer.UpdateRequest[RemoteArgs, RemoteState]) (infer.UpdateResponse[RemoteState], error) {
	st := RemoteState{RemoteArgs: req.Inputs, Stdout: req.State.Stdout, Stderr: req.State.Stderr}
	script := req.Inputs.Update
	if script == nil {
		script = req.Inputs.Create
	}
	if req.DryRun || script == nil {
		return infer.UpdateResponse[RemoteState]{Output: st}, nil
	}
	var err error
	st.Stdout, st.Stderr, err = runRemote(ctx, req.Inputs, *script, &req.State)
	return infer.UpdateResponse[RemoteState]{Output: st}, err
}

func (*Remote) Delete(ctx context.Context, req infer.DeleteRequest[RemoteState]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, _, err := runRemote(ctx, req.State.RemoteArgs, *req.State.Delete, &req.State)
	return infer.DeleteResponse{}, err
}

func main() {
	prov, err := infer.NewProviderBuilder().
		WithNamespace("pulumi").
		WithResources(infer.Resource(&Local{}), infer.Resource(&Remote{})).
		WithFunctions(infer.Function(&Run{})).
		Build()
	if err == nil {
		err = p.RunProvider(context.Background(), "command", Version, prov)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
