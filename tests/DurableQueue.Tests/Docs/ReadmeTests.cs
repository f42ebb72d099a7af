namespace DurableQueue.Tests.Docs;

public sealed class ReadmeTests
{
    [Fact]
    public void Readme_QuickStart_IsTheSampleProgramVerbatim()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        var program = File.ReadAllText(Path.Combine(root, "samples", "QuickStart", "Program.cs")).ReplaceLineEndings("\n");

        Assert.Contains("```csharp\n" + program + "```", readme, StringComparison.Ordinal);
    }

    [Fact]
    public void Readme_TwoCommands_AreTheOnesCiRuns()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var ci = File.ReadAllText(Path.Combine(root, ".ci", "run"));

        Assert.Contains("dotnet run --project samples/QuickStart", readme, StringComparison.Ordinal);
        Assert.Contains("dotnet test DurableQueue.sln", readme, StringComparison.Ordinal);
        Assert.Contains("dotnet test DurableQueue.sln", ci, StringComparison.Ordinal);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DurableQueue.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root (DurableQueue.sln) was not found above the test binaries.");
    }
}
