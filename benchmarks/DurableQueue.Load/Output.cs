using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace DurableQueue.Load;

internal static class Output
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public static object Machine() => new
    {
        ProcessorCount = Environment.ProcessorCount,
        Os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        Runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        StartedUtc = DateTime.UtcNow,
        // The machine may be shared: record how busy it was when the run ended.
        LoadAverage = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
        IoPressure = File.Exists("/proc/pressure/io") ? File.ReadAllText("/proc/pressure/io").Trim() : null,
    };

    public static void WriteJson(string path, object value)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, JsonSerializer.Serialize(value, s_json));
        AnsiConsole.MarkupLineInterpolated($"[grey]Results written to {full}[/]");
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static Table RunTable(IEnumerable<RunResult> results)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in new[] { "Run", "Durability", "P/C", "Msgs/s", "p50 ms", "p99 ms", "max ms", "Commits/s", "Ops/commit", "Msg ops/commit", "Peak RSS MB" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (var r in results)
        {
            table.AddRow(
                r.Kind + (r.Kind == "RawSqlite" ? $" ({r.RawOpsPerCommit}/commit)" : $" (recv {r.ReceiveBatch})"),
                r.Durability,
                $"{r.Producers}/{r.Consumers}",
                r.MessagesPerSecond.ToString("N0"),
                r.Latency.P50Ms.ToString("N2"),
                r.Latency.P99Ms.ToString("N2"),
                r.Latency.MaxMs.ToString("N1"),
                r.CommitsPerSecond.ToString("N0"),
                r.OperationsPerCommit.ToString("N2"),
                r.MessageOperationsPerCommit.ToString("N2"),
                (r.PeakRssBytes / 1048576.0).ToString("N0"));
        }

        return table;
    }

    /// <summary>Runs <paramref name="run"/> under a live progress bar (or plainly when asked or not interactive).</summary>
    public static async Task<T> WithProgressAsync<T>(string label, long total, bool show, Func<Action<long>?, Task<T>> run)
    {
        if (!show)
        {
            AnsiConsole.MarkupLineInterpolated($"[grey]{label}...[/]");
            return await run(null);
        }

        T result = default!;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(label), maxValue: total);
                result = await run(value => task.Value = Math.Min(total, value));
                task.Value = total;
            });
        return result;
    }
}
