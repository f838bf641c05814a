// One whole run of the program under Pulumi's mocks, in the process bench/scale.ts starts
// and times from outside. It sets up what the SDK's runner (`@pulumi/pulumi/cmd/run`) sets
// up before a program when `pulumi` runs it (source-map-support, which formats every stack
// trace, the inspector session of the v8 hooks, the tracing modules), then runs run.js, as
// Pulumi.yaml names it, inside the root stack, with the stack config bench/scale.ts wrote.
// Only Pulumi's mock monitor stands in for the engine. At exit it prints one JSON line.
//
// With NBF_BENCH_COUNT=1 it also counts what each resource costs the SDK (Outputs, promises,
// stack traces formatted); those hooks slow the run, so counting runs are never timed.

import { createHook } from "async_hooks";
import * as fs from "fs";
import * as path from "path";
import type { runtime } from "@pulumi/pulumi";

const [runJs, configFile] = process.argv.slice(2);
const counting = process.env.NBF_BENCH_COUNT === "1";
const counts = { resources: 0, invokes: 0, outputs: 0, promises: 0, sdkPromises: 0, stackTraces: 0 };

/** A module by path, as the runner loads its own. */
function load<T = unknown>(file: string): T {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as T;
}

const sdkRoot = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
// The runner's first requires (cmd/run/index.js), in its order.
load(path.join(sdkRoot, "cmd", "run", "instrumentation"));
load(require.resolve("source-map-support/register", { paths: [sdkRoot] }));
load(path.join(sdkRoot, "cmd", "run", "tracing"));

if (counting) {
    createHook({
        init: (_id, type) => {
            if (type === "PROMISE") counts.promises++;
        },
    }).enable();
    // Every Output is a Proxy around an OutputImpl (@pulumi/pulumi output.js).
    const NativeProxy = Proxy;
    globalThis.Proxy = new NativeProxy(NativeProxy, {
        construct(target, args: [object, ProxyHandler<object>]) {
            if ((args[0] as { __pulumiOutput?: boolean }).__pulumiOutput === true) {
                counts.outputs++;
            }
            return new target(...args);
        },
    });
    // V8 formats a stack trace when `.stack` is first read, through Error.prepareStackTrace
    // (source-map-support's, as under the runner); frameless ones cost next to nothing.
    const prepare = Error.prepareStackTrace?.bind(Error);
    Error.prepareStackTrace = (error, frames) => {
        counts.stackTraces += frames.length > 0 ? 1 : 0;
        return prepare ? (prepare(error, frames) as unknown) : String(error);
    };
}

// The SDK's mock and config modules, not its index: the runner loads no more than these
// before the program, and the program's own imports must pay for the rest.
const mocks = load<{ setMocks: typeof runtime.setMocks }>(path.join(sdkRoot, "runtime", "mocks"));
const config = load<{ setAllConfig: typeof runtime.setAllConfig }>(path.join(sdkRoot, "runtime", "config"));
const debuggable = load<{ debuggablePromise: (...a: unknown[]) => unknown }>(
    path.join(sdkRoot, "runtime", "debuggable"),
);
if (counting) {
    const tracked = debuggable.debuggablePromise;
    debuggable.debuggablePromise = (...a: unknown[]) => {
        counts.sdkPromises++;
        return tracked(...a);
    };
}

interface BenchConfig {
    project: string;
    stack: string;
    projectRoot: string;
    config: Record<string, string>;
    secretKeys: string[];
}
const bench = JSON.parse(fs.readFileSync(configFile, "utf8")) as BenchConfig;

/** A real ed25519 public key (its private half discarded): the console reader's answer. */
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFP+FR49tN+WlqieIiLeamOosYpGoJxI+DuXubUwhZGj";

void mocks.setMocks(
    {
        newResource(args) {
            counts.resources++;
            const tag = "0123456789abcdef";
            const id = `${args.name}-${tag}`;
            const inputs = args.inputs as Record<string, unknown>;
            switch (args.type) {
                case "aws:ec2/instance:Instance":
                    return { id, state: { ...inputs, publicIp: "198.51.100.7", privateIp: "10.0.0.7" } };
                case "command:local:Command":
                    // Each host's key read back from its console; the other commands' output is unused.
                    return {
                        id,
                        state: { ...inputs, stdout: args.name.endsWith("-console-host-key") ? `${HOST_KEY}\n` : "" },
                    };
                case "docker-build:index:Image":
                    return {
                        id,
                        state: {
                            ...inputs,
                            digest: `sha256:${tag}`,
                            ref: `${(inputs.tags as string[] | undefined)?.[0] ?? ""}@sha256:${tag}`,
                        },
                    };
                case "docker-build:index:Index":
                    return { id, state: { ...inputs, ref: `${String(inputs.tag)}@sha256:${tag}` } };
                default:
                    return {
                        id,
                        state: {
                            ...inputs,
                            name: args.name,
                            repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${String(inputs.name)}`,
                        },
                    };
            }
        },
        call(args) {
            counts.invokes++;
            switch (args.token) {
                case "aws:ssm/getParameter:getParameter":
                    return { value: "ami-0123456789abcdef0" };
                case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
                    return {
                        proxyEndpoint: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                        userName: "AWS",
                        password: "token",
                    };
                case "aws:ec2/getVpc:getVpc":
                    return { id: "vpc-0default0" };
                // The account id in the hosts' role and permissions-boundary ARNs (components/hostAccess.ts).
                case "aws:index/getCallerIdentity:getCallerIdentity":
                    return {
                        accountId: "123456789012",
                        arn: "arn:aws:sts::123456789012:assumed-role/deploy/ci",
                        userId: "AROAEXAMPLE:ci",
                    };
                // The builders' runner reports every node up (runner/builderSpec.ts EnsureReport).
                case "command:local:run":
                    return { stdout: `${JSON.stringify({ fingerprint: "0123456789abcdef", down: [] })}\n` };
                default: {
                    // The mock monitor passes a thrown error on without its message (the SDK reads
                    // only a gRPC error's `details`), so the bench's failure would not name the invoke.
                    process.stderr.write(`bench: unexpected invoke ${args.token}: answer it in bench/scaleRun.ts\n`);
                    throw new Error(`unexpected invoke ${args.token}`);
                }
            }
        },
    },
    bench.project,
    bench.stack,
    false,
);
config.setAllConfig(bench.config, bench.secretKeys);

process.on("exit", (code) => {
    const report = {
        exitCode: code,
        peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
        ...(counting ? counts : { resources: counts.resources, invokes: counts.invokes }),
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
});

void (async () => {
    // The runner waits for its inspector session before it loads the program (cmd/run/index.js).
    await load<{ isInitializedAsync(): Promise<void> }>(
        path.join(sdkRoot, "runtime", "closure", "v8Hooks"),
    ).isInitializedAsync();
    process.chdir(bench.projectRoot);
    const stack = load<{ runInPulumiStack(init: () => Promise<unknown>): Promise<unknown> }>(
        path.join(sdkRoot, "runtime", "stack"),
    );
    await stack.runInPulumiStack(() => Promise.resolve(load(runJs)));
})();
