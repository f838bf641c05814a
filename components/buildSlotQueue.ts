// The builds' own queue on each host (builder.buildSlots): which solve each build resource
// waits for, as a Pulumi dependency computed from the placement actually used
// (plan/buildSlots.ts slotWaits). Not a resource: the ImageBuild components record their
// builds here in the order the queue was made with, and each asks for its dependencies.

import * as pulumi from "@pulumi/pulumi";
import { SlotSolve, slotWaits } from "../plan/buildSlots";

const id = (solve: SlotSolve) => `${solve.key}\0${solve.kind}`;

export class BuildSlotQueue {
    private readonly order = new Map<string, number>();
    private readonly resources: pulumi.Resource[] = [];
    private readonly waits: pulumi.Output<(number | undefined)[]>;

    /**
     * @param solves every solve of the stack, in the order the builds are declared
     * @param hostOf the host of each platform build (by build key), failover included
     * @param slots the most solves a host runs at once
     */
    constructor(solves: SlotSolve[], hostOf: pulumi.Output<Record<string, string>>, slots: number) {
        solves.forEach((solve, i) => this.order.set(id(solve), i));
        this.waits = hostOf.apply((hosts) => slotWaits(solves, hosts, slots));
    }

    /** `base`, and the build this solve waits for on its host, once the placement is known. */
    dependsOn(solve: SlotSolve, base: pulumi.Input<pulumi.Resource>[]): pulumi.Output<pulumi.Input<pulumi.Resource>[]> {
        const i = this.indexOf(solve);
        return this.waits.apply((waits) => {
            const before = waits[i];
            if (before !== undefined && this.resources[before] === undefined) {
                throw new Error(`build slots: ${solve.key} (${solve.kind}) waits for a build that was never declared`);
            }
            return before === undefined ? base : [...base, this.resources[before]];
        });
    }

    /** Records the resource that runs `solve`. */
    add(solve: SlotSolve, resource: pulumi.Resource): void {
        this.resources[this.indexOf(solve)] = resource;
    }

    private indexOf(solve: SlotSolve): number {
        const i = this.order.get(id(solve));
        if (i === undefined) {
            throw new Error(`build slots: ${solve.key} (${solve.kind}) is not one of the stack's builds`);
        }
        return i;
    }
}
