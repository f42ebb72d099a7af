using System.Diagnostics;

namespace DurableQueue.PropertyTests.Faults;

/// <summary>What this machine lets the fault tests do; each test that needs something missing is skipped with the reason.</summary>
internal static class FaultEnvironment
{
    public static bool IsRoot => Environment.UserName == "root" || Run("id", "-u").Output.Trim() == "0";

    public static string? FiuRun => Which("fiu-run");

    public static string? Chattr => Which("chattr");

    public static (int Exit, string Output) Run(string file, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, ex.Message);
        }
    }

    private static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}

/// <summary>A fact that needs root (to mount a small tmpfs); skipped with the reason otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || !FaultEnvironment.IsRoot)
        {
            Skip = "Needs root on Linux to mount a small tmpfs; the max_page_count variant of this test runs everywhere.";
        }
    }
}

/// <summary>A fact that needs fiu-run (Debian package fiu-utils, installed by .ci/run); skipped with the reason otherwise.</summary>
public sealed class FiuFactAttribute : FactAttribute
{
    public FiuFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || FaultEnvironment.FiuRun is null)
        {
            Skip = "fiu-run was not found (install the fiu-utils package): the injected I/O error test cannot run here.";
        }
    }
}
