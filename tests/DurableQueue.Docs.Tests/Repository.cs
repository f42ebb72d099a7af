using System.Text.RegularExpressions;

namespace DurableQueue.Docs.Tests;

/// <summary>The repository's files as a reader sees them: the root, the README and the docs.</summary>
internal static partial class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>README.md, the packages' readme and every docs/*.md, as paths relative to the root.</summary>
    public static IReadOnlyList<string> Documents { get; } =
        new[] { "README.md", "eng/package-readme.md" }.Concat(Directory.GetFiles(Path.Combine(FindRoot(), "docs"), "*.md").Order(StringComparer.Ordinal)
            .Select(p => Path.GetRelativePath(FindRoot(), p).Replace('\\', '/'))).ToArray();

    public static string Read(string relativePath) => File.ReadAllText(Path.Combine(Root, relativePath)).ReplaceLineEndings("\n");

    /// <summary>Every distinct `dotnet run --project samples/NAME ...` command the README and the docs show, with where it is written.</summary>
    public static IReadOnlyList<DocCommand> SampleCommands()
    {
        var commands = new List<DocCommand>();
        foreach (var document in Documents)
        {
            var lines = Read(document).Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (Match match in SampleCommandPattern().Matches(lines[i]))
                {
                    commands.Add(new DocCommand(match.Value.Trim(), match.Groups["sample"].Value, $"{document}:{i + 1}"));
                }
            }
        }

        return commands.GroupBy(c => c.Text, StringComparer.Ordinal).Select(g => g.First()).ToArray();
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DurableQueue.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root (DurableQueue.sln) was not found above the test binaries.");
    }

    // The command ends at the end of the line, a backtick (inline code) or a shell comment.
    [GeneratedRegex(@"dotnet run --project samples/(?<sample>[A-Za-z0-9_.-]+)(?: -- [^`#\n]*)?")]
    private static partial Regex SampleCommandPattern();
}

/// <summary>A command as the docs write it, and where.</summary>
internal sealed record DocCommand(string Text, string Sample, string WrittenAt)
{
    public override string ToString() => $"{Text} ({WrittenAt})";
}
