// The policy pack pull requests run: `pulumi preview --policy-pack policy`.

import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

new PolicyPack("native-build-fleet-policy", { policies });
