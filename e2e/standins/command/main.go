// pulumi-resource-command (STAND-IN). NOT the real pulumi-command provider: the Go module proxy here
// refuses github.com/pulumi/pulumi-command/provider (404 for v1.2.1, 403 for its commit), so this
// minimal provider lets the @pulumi/command 1.2.1 SDK run through the real engine in offline e2e
// tests. It implements command:local:Command, command:remote:Command and the command:local:run
// invoke, and behaves as the real 1.2.1 does wherever a program can tell (provider notes, "What the
// real command provider 1.2.1 does"; its provider/pkg/provider/{local,remote} sources), so a fault
// the real provider shows also fails the acceptance run:
//   - create/update/delete, environment (added to the inherited one), dir, interpreter, stdin (only
//     when not empty), triggers (any change => replace), outputs stdout/stderr; ids are the name
//     plus 8 hex characters; commands do not run during preview;
//   - addPreviousOutputInEnv sets PULUMI_COMMAND_STDOUT/STDERR only when they are not empty;
//   - logging (default stdout and stderr) streams each line of output as an info status line;
//     a line over 64 KiB on a logged stream hangs the command for good (its timeout included);
//   - a failed update keeps the previous stdout and stderr in the state;
//   - a failing command reports `<exit status>: running "<the command text>":` then its output;
//   - remote connections: user (root), port (22), privateKey (+ privateKeyPassword), password,
//     SSH_AUTH_SOCK or agentSocketPath (a stale socket fails); with hostKey only that key, and only
//     its own algorithm (ssh-rsa means SHA-1, which OpenSSH >= 8.8 refuses), without hostKey no
//     check at all; every dial error is retried (`Dial N/<limit> failed: retrying`, delay 100 ms
//     growing x1.5 to 5 s) until dialErrorLimit (10, -1 = unlimited) or the resource timeout, which
//     reports only `context deadline exceeded`; perDialTimeout (15 s);
//   - a remote environment variable the server refuses fails the command; PULUMI_COMMAND_STDOUT/
//     STDERR only warn.
//
// Absent: assets and archives, CopyToRemote, proxy connections.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

var Version = "1.2.1"

const (
	envStdout = "PULUMI_COMMAND_STDOUT"
	envStderr = "PULUMI_COMMAND_STDERR"
)

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

// logs is where a command's messages go: the engine's logger in the provider, a recorder in tests.
type logs struct {
	status  func(string) // info status lines: streamed output, dial retries
	warning func(string)
	error   func(string)
}

func engineLogs(ctx context.Context) logs {
	l := p.GetLogger(ctx)
	return logs{status: l.InfoStatus, warning: l.Warning, error: l.Error}
}

// resourceID is the name plus 8 hex characters, as the real provider's ids are.
func resourceID(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return name + hex.EncodeToString(b)
}

// shouldLog reads `logging` as the real provider does: stdout, stderr, stdoutAndStderr (the default) or none.
func shouldLog(logging *string, stream string) bool {
	return logging == nil || *logging == stream || *logging == "stdoutAndStderr"
}

// previousOutput is what addPreviousOutputInEnv adds: only the outputs that are not empty.
func previousOutput(add *bool, stdout, stderr string) map[string]string {
	env := map[string]string{}
	if add != nil && !*add {
		return env
	}
	if stdout != "" {
		env[envStdout] = stdout
	}
	if stderr != "" {
		env[envStderr] = stderr
	}
	return env
}

// output captures a command's stdout, stderr and both interleaved (for the error), and streams
// the lines `logging` selects as status lines.
type output struct {
	stdout, stderr, both bytes.Buffer
	mu                   sync.Mutex
	pipeR                *io.PipeReader
	pipeW                *io.PipeWriter
	done                 chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func newOutput(log logs) *output {
	o := &output{done: make(chan struct{})}
	o.pipeR, o.pipeW = io.Pipe()
	go func() {
		// The real provider's reader (util.LogOutput): a bufio.Scanner with its default 64 KiB
		// limit. A longer line stops it (bufio.ErrTooLong) and nothing drains the pipe after
		// that, so the next write to the logged stream blocks, the child blocks on its own
		// output, and the command never returns, not even at its timeout: os/exec waits for
		// the copy into the pipe, which nothing reads (provider notes: a 70,000-byte line
		// never returned). Kept as it is so the acceptance run fails where users would hang.
		defer close(o.done)
		scanner := bufio.NewScanner(o.pipeR)
		for scanner.Scan() {
			log.status(scanner.Text())
		}
	}()
	return o
}

func (o *output) writers(logging *string) (io.Writer, io.Writer) {
	both := lockedWriter{&o.mu, &o.both}
	stdout := []io.Writer{&o.stdout, both}
	if shouldLog(logging, "stdout") {
		stdout = append(stdout, lockedWriter{&o.mu, o.pipeW})
	}
	stderr := []io.Writer{&o.stderr, both}
	if shouldLog(logging, "stderr") {
		stderr = append(stderr, lockedWriter{&o.mu, o.pipeW})
	}
	return io.MultiWriter(stdout...), io.MultiWriter(stderr...)
}

// finish waits for the streamed lines and returns stdout and stderr without their final newline,
// or the real provider's error: `<err>: running "<command>":` and the interleaved output.
func (o *output) finish(err error, command string) (string, string, error) {
	_ = o.pipeW.Close()
	<-o.done
	if err != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, command, o.both.String())
	}
	return strings.TrimSuffix(o.stdout.String(), "\n"), strings.TrimSuffix(o.stderr.String(), "\n"), nil
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

func runLocal(ctx context.Context, log logs, in LocalArgs, script string, prevStdout, prevStderr string) (string, string, error) {
	interp := in.Interpreter
	if len(interp) == 0 {
		interp = []string{"/bin/sh", "-c"}
	}
	cmd := exec.CommandContext(ctx, interp[0], append(interp[1:], script)...)
	cmd.Env = os.Environ()
	for k, v := range in.Environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range previousOutput(in.AddPreviousOutputInEnv, prevStdout, prevStderr) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if in.Dir != nil {
		cmd.Dir = *in.Dir
	}
	if in.Stdin != nil && len(*in.Stdin) > 0 {
		cmd.Stdin = strings.NewReader(*in.Stdin)
	}
	out := newOutput(log)
	cmd.Stdout, cmd.Stderr = out.writers(in.Logging)
	return out.finish(cmd.Run(), script)
}

func (*Local) Create(ctx context.Context, req infer.CreateRequest[LocalArgs]) (infer.CreateResponse[LocalState], error) {
	st := LocalState{LocalArgs: req.Inputs}
	id := resourceID(req.Name)
	if req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[LocalState]{ID: id, Output: st}, nil
	}
	var err error
	st.Stdout, st.Stderr, err = runLocal(ctx, engineLogs(ctx), req.Inputs, *req.Inputs.Create, "", "")
	return infer.CreateResponse[LocalState]{ID: id, Output: st}, err
}

func (*Local) Update(ctx context.Context, req infer.UpdateRequest[LocalArgs, LocalState]) (infer.UpdateResponse[LocalState], error) {
	st, err := updateLocal(ctx, engineLogs(ctx), req.Inputs, req.State, req.DryRun)
	return infer.UpdateResponse[LocalState]{Output: st}, err
}

// updateLocal runs `update` (else `create`) with the new inputs. Its outputs replace the
// previous ones only when it succeeds: the real provider writes them into the state only then,
// so a failed update keeps the previous stdout and stderr (provider notes).
func updateLocal(ctx context.Context, log logs, in LocalArgs, prev LocalState, dryRun bool) (LocalState, error) {
	st := LocalState{LocalArgs: in, Stdout: prev.Stdout, Stderr: prev.Stderr}
	script := in.Update
	if script == nil {
		script = in.Create
	}
	if dryRun || script == nil {
		return st, nil
	}
	stdout, stderr, err := runLocal(ctx, log, in, *script, prev.Stdout, prev.Stderr)
	if err == nil {
		st.Stdout, st.Stderr = stdout, stderr
	}
	return st, err
}

func (*Local) Delete(ctx context.Context, req infer.DeleteRequest[LocalState]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, _, err := runLocal(ctx, engineLogs(ctx), req.State.LocalArgs, *req.State.Delete, req.State.Stdout, req.State.Stderr)
	return infer.DeleteResponse{}, err
}

// ---- local.run (invoke; runs on every program execution, previews included) ----
type Run struct{}
type RunArgs struct {
	Command                string            `pulumi:"command"`
	Dir                    *string           `pulumi:"dir,optional"`
	Environment            map[string]string `pulumi:"environment,optional"`
	Interpreter            []string          `pulumi:"interpreter,optional"`
	Stdin                  *string           `pulumi:"stdin,optional"`
	Logging                *string           `pulumi:"logging,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
}
type RunResult struct {
	RunArgs
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

func (*Run) Annotate(a infer.Annotator) { a.SetToken("local", "run") }

func (*Run) Invoke(ctx context.Context, req infer.FunctionRequest[RunArgs]) (infer.FunctionResponse[RunResult], error) {
	in := LocalArgs{base: base{Environment: req.Input.Environment, Stdin: req.Input.Stdin, Logging: req.Input.Logging}, Dir: req.Input.Dir, Interpreter: req.Input.Interpreter}
	// Like the real provider, the error carries the whole command text, then the output.
	out, serr, err := runLocal(ctx, engineLogs(ctx), in, req.Input.Command, "", "")
	if err != nil {
		return infer.FunctionResponse[RunResult]{}, err
	}
	return infer.FunctionResponse[RunResult]{Output: RunResult{RunArgs: req.Input, Stdout: out, Stderr: serr}}, nil
}

// ---- remote.Command ----
type Connection struct {
	Host               string   `pulumi:"host"`
	Port               *float64 `pulumi:"port,optional"`
	User               *string  `pulumi:"user,optional"`
	Password           *string  `pulumi:"password,optional" provider:"secret"`
	PrivateKey         *string  `pulumi:"privateKey,optional" provider:"secret"`
	PrivateKeyPassword *string  `pulumi:"privateKeyPassword,optional" provider:"secret"`
	AgentSocketPath    *string  `pulumi:"agentSocketPath,optional"`
	HostKey            *string  `pulumi:"hostKey,optional"`
	DialErrorLimit     *int     `pulumi:"dialErrorLimit,optional"`
	PerDialTimeout     *int     `pulumi:"perDialTimeout,optional"`
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

// clientConfig is the real provider's: no host-key check without hostKey; with it, only that
// key and only its own algorithm, so an ssh-rsa key offers SHA-1 ssh-rsa alone.
func clientConfig(c Connection) (*ssh.ClientConfig, error) {
	user, per := "root", 15
	if c.User != nil {
		user = *c.User
	}
	if c.PerDialTimeout != nil {
		per = *c.PerDialTimeout
	}
	cfg := &ssh.ClientConfig{User: user, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: time.Duration(per) * time.Second}
	if c.HostKey != nil && *c.HostKey != "" {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(pk)
		cfg.HostKeyAlgorithms = []string{pk.Type()}
	}
	if c.PrivateKey != nil {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != nil {
		password := *c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(password), ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range answers {
				answers[i] = password
			}
			return answers, nil
		}))
	}
	socket := os.Getenv("SSH_AUTH_SOCK")
	if c.AgentSocketPath != nil {
		socket = *c.AgentSocketPath
	}
	if socket != "" {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return cfg, nil
}

// retryDelay is the wait after the n-th failed dial (0-based): 100 ms, growing x1.5, at most 5 s.
func retryDelay(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 0; i < n && d < 5*time.Second; i++ {
		d = time.Duration(float64(d) * 1.5)
	}
	return min(d, 5*time.Second)
}

// dialWithRetry retries every error, as the real provider's does: authentication failures and
// host-key mismatches too. Only the limit or the context ends it; the context's end reports
// its own error (`context deadline exceeded`), not the last dial's.
func dialWithRetry[T any](ctx context.Context, log logs, msg string, limit int, f func() (T, error)) (T, error) {
	var zero T
	for try := 0; ; try++ {
		result, err := f()
		if err == nil {
			return result, nil
		}
		dials := try + 1
		if limit > -1 && dials > limit {
			return zero, fmt.Errorf("after %d failed attempts: %w", try, err)
		}
		shown := "inf"
		if limit != -1 {
			shown = fmt.Sprint(limit)
		}
		log.status(fmt.Sprintf("%s %d/%s failed: retrying", msg, dials, shown))
		select {
		case <-time.After(retryDelay(try)):
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
}

func dial(ctx context.Context, log logs, c Connection) (*ssh.Client, error) {
	cfg, err := clientConfig(c)
	if err != nil {
		return nil, err
	}
	port, limit := 22.0, 10
	if c.Port != nil {
		port = *c.Port
	}
	if c.DialErrorLimit != nil {
		limit = *c.DialErrorLimit
	}
	addr := net.JoinHostPort(c.Host, fmt.Sprint(int(port)))
	return dialWithRetry(ctx, log, "Dial", limit, func() (*ssh.Client, error) { return ssh.Dial("tcp", addr, cfg) })
}

const setenvHint = "Unable to set '%s'. This only works if your SSH server is configured to accept these variables via AcceptEnv. " +
	"Alternatively, if a Bash-like shell runs the command on the remote host, you could prefix the command itself with the variables in the form 'VAR=value command'"

func runRemote(ctx context.Context, log logs, in RemoteArgs, script string, prevStdout, prevStderr string) (string, string, error) {
	cl, err := dial(ctx, log, in.Connection)
	if err != nil {
		return "", "", err
	}
	defer cl.Close()
	s, err := cl.NewSession()
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	for k, v := range in.Environment {
		if err := s.Setenv(k, v); err != nil {
			log.error(fmt.Sprintf(setenvHint, k))
			return "", "", fmt.Errorf("could not set environment variable %q: %w", k, err)
		}
	}
	for k, v := range previousOutput(in.AddPreviousOutputInEnv, prevStdout, prevStderr) {
		if err := s.Setenv(k, v); err != nil {
			log.warning(fmt.Sprintf(setenvHint, k))
		}
	}
	if in.Stdin != nil && len(*in.Stdin) > 0 {
		s.Stdin = strings.NewReader(*in.Stdin)
	}
	out := newOutput(log)
	s.Stdout, s.Stderr = out.writers(in.Logging)
	return out.finish(s.Run(script), script)
}

func (*Remote) Create(ctx context.Context, req infer.CreateRequest[RemoteArgs]) (infer.CreateResponse[RemoteState], error) {
	st := RemoteState{RemoteArgs: req.Inputs}
	id := resourceID(req.Name)
	if req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[RemoteState]{ID: id, Output: st}, nil
	}
	var err error
	st.Stdout, st.Stderr, err = runRemote(ctx, engineLogs(ctx), req.Inputs, *req.Inputs.Create, "", "")
	return infer.CreateResponse[RemoteState]{ID: id, Output: st}, err
}

func (*Remote) Update(ctx context.Context, req infer.UpdateRequest[RemoteArgs, RemoteState]) (infer.UpdateResponse[RemoteState], error) {
	st, err := updateRemote(ctx, engineLogs(ctx), req.Inputs, req.State, req.DryRun)
	return infer.UpdateResponse[RemoteState]{Output: st}, err
}

// updateRemote is updateLocal's twin: a failed update keeps the previous outputs.
func updateRemote(ctx context.Context, log logs, in RemoteArgs, prev RemoteState, dryRun bool) (RemoteState, error) {
	st := RemoteState{RemoteArgs: in, Stdout: prev.Stdout, Stderr: prev.Stderr}
	script := in.Update
	if script == nil {
		script = in.Create
	}
	if dryRun || script == nil {
		return st, nil
	}
	stdout, stderr, err := runRemote(ctx, log, in, *script, prev.Stdout, prev.Stderr)
	if err == nil {
		st.Stdout, st.Stderr = stdout, stderr
	}
	return st, err
}

func (*Remote) Delete(ctx context.Context, req infer.DeleteRequest[RemoteState]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, _, err := runRemote(ctx, engineLogs(ctx), req.State.RemoteArgs, *req.State.Delete, req.State.Stdout, req.State.Stderr)
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
