using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace DurableQueue.Docs.Tests;

/// <summary>
/// Packs the library and the tool (in Debug, reusing the test build) and looks inside: a readme a package page can show,
/// no invented URLs, the tool's native SQLite builds for desktop and server platforms only, and a tool that installs
/// (from the local packages only: no other feed is asked) and runs.
/// </summary>
[Collection(nameof(SampleCommandTests))] // builds the same projects as the sample commands: one build at a time
public sealed partial class PackageTests : IDisposable
{
    private static readonly string[] s_toolRuntimes = ["linux-arm64", "linux-musl-arm64", "linux-musl-x64", "linux-x64", "osx-arm64", "osx-x64", "win-arm64", "win-x64"];

    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dq-packages-");

    public void Dispose() => _temp.Delete(recursive: true);

    [Fact]
    public async Task Packages_ReadmeUrlsAndToolContents_AndTheToolInstallsAndRuns()
    {
        var output = Path.Combine(_temp.FullName, "packages");
        // DurableQueue.Hosting is packed with the same settings (src/Directory.Build.*) as these two.
        foreach (var project in new[] { "src/DurableQueue", "src/DurableQueue.Cli" })
        {
            await using var pack = CommandProcess.Start($"dotnet pack {project} -c Debug -o {output}");
            Assert.True(await pack.WaitForExitAsync(TimeSpan.FromMinutes(4)) == 0, pack.Output);
        }

        foreach (var id in new[] { "DurableQueue", "DurableQueue.Cli" })
        {
            using var package = ZipFile.OpenRead(Path.Combine(output, $"{id}.0.1.0.nupkg"));
            var nuspec = XDocument.Load(package.GetEntry($"{id}.nuspec")!.Open());
            var metadata = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            Assert.Equal("README.md", metadata.Elements().Single(e => e.Name.LocalName == "readme").Value);

            // Every link of the packed readme works on a package page: no relative links to repository files.
            using (var readme = new StreamReader(package.GetEntry("README.md")!.Open()))
            {
                var text = await readme.ReadToEndAsync();
                Assert.Contains("dotnet add package DurableQueue", text, StringComparison.Ordinal);
                Assert.All(MarkdownLink().Matches(text), link => Assert.StartsWith("https://", link.Groups["target"].Value, StringComparison.Ordinal));
            }

            // The URLs come from the clone's remote, never from a placeholder: both or neither.
            var repositoryUrl = metadata.Elements().SingleOrDefault(e => e.Name.LocalName == "repository")?.Attribute("url")?.Value;
            var projectUrl = metadata.Elements().SingleOrDefault(e => e.Name.LocalName == "projectUrl")?.Value;
            Assert.Equal(repositoryUrl is null, projectUrl is null);
            if (repositoryUrl is not null)
            {
                Assert.Equal(Regex.Replace(repositoryUrl, @"\.git$", ""), projectUrl);
            }
        }

        using (var tool = ZipFile.OpenRead(Path.Combine(output, "DurableQueue.Cli.0.1.0.nupkg")))
        {
            var runtimes = tool.Entries.Select(e => e.FullName.Split('/')).Where(p => p.Length > 4 && p[3] == "runtimes").Select(p => p[4]).Distinct().Order(StringComparer.Ordinal);
            Assert.Equal(s_toolRuntimes, runtimes);
        }

        // Install from these packages only, into a folder of the test, and run it.
        var config = Path.Combine(_temp.FullName, "nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources><clear /><add key="local" value="{output}" /></packageSources>
            </configuration>
            """);
        var tools = Path.Combine(_temp.FullName, "tools");
        await using (var install = CommandProcess.Start($"dotnet tool install DurableQueue.Cli --tool-path {tools} --configfile {config}"))
        {
            Assert.True(await install.WaitForExitAsync(TimeSpan.FromMinutes(2)) == 0, install.Output);
        }

        await using var version = CommandProcess.Start($"{Path.Combine(tools, "dq")} --version");
        Assert.True(await version.WaitForExitAsync(TimeSpan.FromMinutes(1)) == 0, version.Output);
        Assert.Equal("0.1.0", version.Output.Trim());
    }

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex MarkdownLink();
}
