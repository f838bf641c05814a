// Stacks for e2e/policy-pack.sh. Config `violate` (default false) adds one resource that breaks the
// mandatory rule `no-plaintext-credentials`: a private key block in a Command's `environment`.
// Both stacks also carry the same key through a Command's `stdin`, as the program does for SSH,
// which the rule allows. Commands do not run during a preview.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

const violate = new pulumi.Config().getBoolean("violate") ?? false;

// Not a key: only the armour lines the rule recognises, around a placeholder.
const fakeKey = ["-----BEGIN OPENSSH PRIVATE KEY-----", "bm90IGEga2V5", "-----END OPENSSH PRIVATE KEY-----", ""].join(
    "\n",
);

new command.local.Command("probe", { create: "true" });
new command.local.Command("key-through-stdin", { create: "cat >/dev/null", stdin: pulumi.secret(fakeKey) });
if (violate) {
    new command.local.Command("key-in-environment", { create: "true", environment: { SSH_PRIVATE_KEY: fakeKey } });
}
