using System.Reflection;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>The tool's version, as `dq --version` prints it.</summary>
internal static class Versions
{
    /// <summary>The informational version without the source revision suffix (+sha).</summary>
    public static string Informational()
    {
        var version = typeof(Versions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}
