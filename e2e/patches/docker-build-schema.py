# Local patch for pulumi-docker-build v0.0.22 (offline build): provider/internal/provider.go imports
# pulumi-dotnet's and pulumi-java's codegen packages only to fill the schema's "language" section with
# two structs. The Go proxy here refuses those modules' zips (403), so replace the structs with
# plain maps carrying the same JSON keys. The schema JSON and all runtime behaviour stay the same.
import sys, re
p = sys.argv[1]
s = open(p).read()
if 'csgen.' not in s:
    sys.exit(0)
s = s.replace('\tcsgen "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3/codegen"\n', '')
s = s.replace('\t"github.com/pulumi/pulumi-java/pkg/codegen/java"\n', '')
s = s.replace('''"csharp": csgen.CSharpPackageInfo{
						RespectSchemaVersion: true,
						PackageReferences: map[string]string{
							"Pulumi": "3.*",
						},
					},''', '''"csharp": map[string]any{
						"respectSchemaVersion": true,
						"packageReferences": map[string]string{
							"Pulumi": "3.*",
						},
					},''')
s = s.replace('''"java": java.PackageInfo{
						BuildFiles:                      "gradle",
						GradleNexusPublishPluginVersion: "1.1.0",
						Dependencies: map[string]string{''', '''"java": map[string]any{
						"buildFiles":                      "gradle",
						"gradleNexusPublishPluginVersion": "1.1.0",
						"dependencies": map[string]string{''')
assert 'csgen.' not in s and 'java.PackageInfo' not in s, "patch did not apply"
open(p, 'w').write(s)
print("patched", p)
