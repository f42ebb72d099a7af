using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;

namespace DurableQueue.Dashboard.Internal;

/// <summary>The page's files, embedded in the assembly: nothing is fetched from elsewhere at run time.</summary>
internal sealed class StaticAssets
{
    private const string Prefix = "DurableQueue.Dashboard.Assets.";
    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);

    public StaticAssets(string title)
    {
        var assembly = typeof(StaticAssets).Assembly;
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            var name = resource[Prefix.Length..];
            var bytes = Read(assembly, resource);
            if (name == "index.html")
            {
                // The only server-side value in the page, HTML-encoded; everything else arrives as JSON.
                bytes = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(bytes).Replace("{{title}}", HtmlEncoder.Default.Encode(title), StringComparison.Ordinal));
            }

            _assets[name] = new Asset(bytes, ContentType(name), "\"" + Convert.ToHexString(SHA256.HashData(bytes), 0, 16) + "\"");
        }
    }

    public bool TryGet(string name, out Asset asset) => _assets.TryGetValue(name, out asset!);

    private static byte[] Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}

/// <summary>One embedded file with its content type and entity tag.</summary>
internal sealed record Asset(byte[] Content, string ContentType, string ETag);
