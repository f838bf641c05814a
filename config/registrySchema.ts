// The `registry` section: the stack's own ECR repositories, or an external registry.

import { z } from "zod";
import { registryAddressProblems, registryUsernameProblem } from "./hostAddress";
import { Reporter } from "./projectPaths";

export const registrySchema = z.discriminatedUnion("type", [
    z
        .object({
            type: z.literal("ecr"),
            immutableTags: z.boolean().default(false),
            untaggedExpiryDays: z.number().int().min(1, "must be at least 1 day").max(3650).default(14),
        })
        .strict(),
    z
        .object({
            type: z.literal("external"),
            address: z.string(),
            username: z.string(),
        })
        .strict(),
]);

export function checkRegistry(registry: z.infer<typeof registrySchema>, report: Reporter): void {
    if (registry.type !== "external") {
        return;
    }
    registryAddressProblems(registry.address).forEach((problem) => report("registry.address", problem));
    const username = registryUsernameProblem(registry.username);
    if (username) {
        report("registry.username", username);
    }
}
