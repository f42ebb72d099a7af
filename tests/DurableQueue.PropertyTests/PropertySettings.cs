using System.Globalization;

namespace DurableQueue.PropertyTests;

/// <summary>
/// Environment variables that scale the long-running tests up from their CI defaults (see docs/guarantees.md).
/// </summary>
internal static class PropertySettings
{
    /// <summary>DQ_PROPERTY_RUNS: how many random operation sequences the model test runs (CI: 200).</summary>
    public static int Runs => Int("DQ_PROPERTY_RUNS", 200);

    /// <summary>
    /// How many sequences the model test runs on PostgreSQL: DQ_PROPERTY_RUNS when set, else 30 (a PostgreSQL step costs
    /// round trips to the server; the CI default keeps that test near a minute).
    /// </summary>
    public static int PostgresRuns => Int("DQ_PROPERTY_RUNS", 30);

    /// <summary>DQ_PROPERTY_STEPS: the most operations in one sequence (CI: 50).</summary>
    public static int Steps => Int("DQ_PROPERTY_STEPS", 50);

    /// <summary>DQ_PROPERTY_REPLAY: "seed,gamma" as printed by a failing run, to run exactly that again.</summary>
    public static (ulong Seed, ulong Gamma)? Replay
    {
        get
        {
            var text = Environment.GetEnvironmentVariable("DQ_PROPERTY_REPLAY");
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }

            var parts = text.Trim().Trim('(', ')').Split(',', StringSplitOptions.TrimEntries);
            return (ulong.Parse(parts[0], CultureInfo.InvariantCulture), ulong.Parse(parts[1], CultureInfo.InvariantCulture));
        }
    }

    /// <summary>DQ_CRASH_KILLS: how many times the crash test kills the child process (CI: 20).</summary>
    public static int Kills => Int("DQ_CRASH_KILLS", 20);

    /// <summary>
    /// DQ_CRASH_SEED: the seed of the crash test's choices (kill points, durability, the hosts' own seeds), as printed
    /// at the start of every run; a new one each run when unset.
    /// </summary>
    public static int CrashSeed => Int("DQ_CRASH_SEED", Random.Shared.Next(1, int.MaxValue));

    private static int Int(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
}
