using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace DurableQueue.Docs.Tests;

/// <summary>
/// Compiles every ```csharp block of README.md and docs/*.md, so that a block a reader copies compiles as written.
/// </summary>
/// <remarks>
/// Each block becomes the body of an async method of a class derived from <see cref="SnippetContext"/>, which declares
/// the names a fragment uses without declaring them (a store, a queue, a message, a body...); the types of the docs'
/// app (Email, EmailHandler, AppJson...) are in this assembly. A block's leading <c>using</c> lines become the file's
/// usings; besides them, a block gets the implicit usings of an ASP.NET Core project (which include a worker's) plus
/// <c>DurableQueue</c> and <c>DurableQueue.Hosting</c>. Errors are reported at the markdown file and line (warnings are not).
/// </remarks>
public sealed partial class CodeBlockTests
{
    private static readonly string[] s_implicitUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks",
        "Microsoft.Extensions.Configuration", "Microsoft.Extensions.DependencyInjection", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.Logging",
        "Microsoft.AspNetCore.Builder", "DurableQueue", "DurableQueue.Hosting",
    ];

    public static TheoryData<string> Documents() => new(Repository.Documents);

    [Fact]
    public void TheDocs_HaveCodeBlocks()
    {
        // A regression guard for the extraction itself: the README alone has six C# blocks.
        Assert.True(Repository.Documents.Sum(d => Blocks(d).Count) >= 9);
        Assert.Equal(6, Blocks("README.md").Count);
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void EveryCSharpBlock_Compiles(string document)
    {
        var blocks = Blocks(document);
        if (blocks.Count == 0)
        {
            return; // this document shows no C#
        }

        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = blocks.Select((b, i) => CSharpSyntaxTree.ParseText(Wrap(document, b, i), parse, path: $"{document}#{i}")).ToList();
        trees.Add(CSharpSyntaxTree.ParseText(string.Join('\n', s_implicitUsings.Select(u => $"global using {u};")), parse));
        var compilation = CSharpCompilation.Create(
            "Snippets",
            trees,
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        var errors = compilation.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d =>
            {
                var at = d.Location.GetMappedLineSpan();
                return $"{at.Path}:{at.StartLinePosition.Line + 1}: {d.Id}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
            })
            .Distinct()
            .ToList();
        Assert.True(errors.Count == 0, $"C# blocks of {document} do not compile:\n{string.Join('\n', errors)}");
    }

    /// <summary>The C# blocks of a document: their first line number (1-based, the line after the fence) and their text.</summary>
    internal static List<(int Line, string Code)> Blocks(string document)
    {
        var lines = Repository.Read(document).Split('\n');
        var blocks = new List<(int, string)>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim() != "```csharp")
            {
                continue;
            }

            var end = Array.FindIndex(lines, i + 1, l => l.TrimStart().StartsWith("```", StringComparison.Ordinal));
            Assert.True(end > i, $"{document}:{i + 1}: the code block is not closed");
            blocks.Add((i + 2, string.Join('\n', lines[(i + 1)..end])));
            i = end;
        }

        return blocks;
    }

    private static string Wrap(string document, (int Line, string Code) block, int index)
    {
        var lines = block.Code.Split('\n');
        var usings = lines.TakeWhile(l => UsingDirective().IsMatch(l) || l.Trim().Length == 0 || l.TrimStart().StartsWith("//", StringComparison.Ordinal)).Count();
        while (usings > 0 && !UsingDirective().IsMatch(lines[usings - 1]))
        {
            usings--; // comments after the last using belong to the body
        }

        var source = new StringBuilder();
        source.AppendLine(CultureInfo($"#line {block.Line} \"{document}\""));
        foreach (var line in lines[..usings])
        {
            source.AppendLine(line);
        }

        source.AppendLine("#line hidden");
        source.AppendLine(CultureInfo($"public sealed class Snippet{index} : SnippetContext {{ public async System.Threading.Tasks.Task RunAsync() {{"));
        source.AppendLine(CultureInfo($"#line {block.Line + usings} \"{document}\""));
        foreach (var line in lines[usings..])
        {
            source.AppendLine(line);
        }

        source.AppendLine("#line hidden");
        source.AppendLine("await System.Threading.Tasks.Task.CompletedTask; } }");
        return source.ToString();

        static string CultureInfo(FormattableString text) => FormattableString.Invariant(text);
    }

    private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(() =>
    {
        // The runtime and every assembly the test references (the library, the hosting package, Dapper, Polly...).
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator).ToList();
        paths.Add(typeof(SnippetContext).Assembly.Location);
        return paths.Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
    });

    [GeneratedRegex(@"^using [A-Za-z0-9_.]+;\s*(//.*)?$")]
    private static partial Regex UsingDirective();
}
