// The AWS region reaches shell command lines (the SSM ProxyCommand, `aws ec2 --region`), so it
// is checked against the shape of region names before it goes anywhere: us-east-1,
// us-gov-west-1, cn-north-1, us-isob-east-1, eusc-de-east-1
// (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html).

const REGION = /^[a-z]{2,4}(-[a-z]{2,10}){1,2}-[0-9]{1,2}$/;

/** Why `region` (read from `source`) is not an AWS region name, or undefined when it is one. */
export function regionProblem(region: string, source: string): string | undefined {
    return REGION.test(region)
        ? undefined
        : `${JSON.stringify(region.length > 40 ? `${region.slice(0, 37)}…` : region)} (from ${source}) is not an AWS region name such as eu-west-1; set it with \`pulumi config set aws:region eu-west-1\``;
}
