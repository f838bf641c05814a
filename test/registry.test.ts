// ECR with immutable release tags: cache tags and referrers lists stay writable through exclusion filters.

import * as pulumi from "@pulumi/pulumi";
import { FleetRegistry, lifecyclePolicy } from "../components/registry";
import { installMocks, settled, valueOf } from "./mocks";

const mocks = installMocks();

test("the lifecycle policy is valid ECR JSON with one untagged-expiry rule", () => {
    expect(JSON.parse(lifecyclePolicy(30))).toEqual({
        rules: [
            {
                rulePriority: 1,
                description: "native-build-fleet: expire untagged images after 30 days",
                selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 30 },
                action: { type: "expire" },
            },
        ],
    });
});

test("immutable release tags leave cache-* tags and sha256-* referrers lists writable", async () => {
    const registry = new FleetRegistry("r", {
        registry: { type: "ecr", immutableTags: true, untaggedExpiryDays: 7 },
        imageNames: ["svc"],
        tags: {},
    });
    expect(await valueOf(registry.repositories.svc)).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc");
    await valueOf(pulumi.output(registry.credentials));
    await settled(mocks.resources);
    const repo = mocks.resources.find((r) => r.type === "aws:ecr/repository:Repository");
    expect(repo?.inputs).toMatchObject({
        imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters: [
            { filter: "cache-*", filterType: "WILDCARD" },
            { filter: "sha256-*", filterType: "WILDCARD" },
        ],
    });
    const policy = mocks.resources.find((r) => r.type === "aws:ecr/lifecyclePolicy:LifecyclePolicy");
    expect(JSON.parse(policy?.inputs.policy).rules[0].selection.countNumber).toBe(7);
});
