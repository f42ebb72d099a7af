using System.Diagnostics;

namespace DurableQueue.PropertyTests.Faults;

/// <summary>
/// What this machine lets the fault tests do. Where the fault tests must run (Linux as root, which is how CI runs
/// them, or wherever the CI variable is set), a missing precondition FAILS the test with the reason; elsewhere (a
/// developer's machine without root) the test is reported as skipped with the reason, never as passed.
/// </summary>
internal static class FaultEnvironment
{
    public static bool IsRoot => Environment.IsPrivilegedProcess;

    /// <summary>Gets a value indicating whether every fault test must run here: a missing precondition is a failure.</summary>
    public static bool MustRun =>
        OperatingSystem.IsLinux() && (IsRoot || Environment.GetEnvironmentVariable("CI") is "true" or "1");

    /// <summary>The reason to skip a test whose precondition is missing, or null where it must run (and then fails).</summary>
    public static string? SkipUnlessMustRun(string reason) =>
        MustRun ? null : reason + " Skipped here; where the fault tests must run (Linux as root, or CI set) this fails instead.";

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

/// <summary>A fact that needs root (to mount a small tmpfs): skipped with the reason only where the fault tests need not run.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || !FaultEnvironment.IsRoot)
        {
            Skip = FaultEnvironment.SkipUnlessMustRun("Needs root on Linux to mount a small tmpfs; the max_page_count variant of this test runs everywhere.");
        }
    }
}

/// <summary>A fact that needs fiu-run (Debian package fiu-utils, installed by .ci/run): skipped with the reason only where the fault tests need not run.</summary>
public sealed class FiuFactAttribute : FactAttribute
{
    public FiuFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || FaultEnvironment.FiuRun is null)
        {
            Skip = FaultEnvironment.SkipUnlessMustRun("fiu-run was not found (install the fiu-utils package): the injected I/O error test cannot run.");
        }
    }
}

/// <summary>A fact written for Unix file modes and attributes: skipped on Windows.</summary>
public sealed class UnixFactAttribute : FactAttribute
{
    public UnixFactAttribute()
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "Written for Unix file modes and attributes.";
        }
    }
}
