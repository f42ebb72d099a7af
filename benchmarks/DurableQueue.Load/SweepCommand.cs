using System.ComponentModel;
using ScottPlot;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Load;

public sealed class SweepSettings : CommonSettings
{
    [CommandOption("--level")]
    [Description("Concurrency levels: N producers and N consumers (repeat the option); default 1 2 4 8 16 32 64.")]
    public int[]? Levels { get; set; }

    [CommandOption("-d|--durability")]
    [Description("Durabilities to sweep (repeat the option); default Full and Normal.")]
    public Durability[]? Durabilities { get; set; }

    [CommandOption("-n|--messages")]
    [DefaultValue(10_000)]
    public int Messages { get; set; }

    [CommandOption("-b|--receive-batch")]
    [DefaultValue(16)]
    public int ReceiveBatch { get; set; }

    [CommandOption("--baseline")]
    [Description("Also run raw SQLite with one operation per commit at each point.")]
    public bool Baseline { get; set; }

    [CommandOption("-r|--repeat")]
    [Description("Runs per point; the median is plotted.")]
    [DefaultValue(1)]
    public int Repeat { get; set; }

    [CommandOption("-o|--json")]
    [DefaultValue("sweep-result.json")]
    public string Json { get; set; } = "sweep-result.json";

    [CommandOption("--chart")]
    [Description("The PNG chart to write.")]
    [DefaultValue("throughput.png")]
    public string Chart { get; set; } = "throughput.png";
}

/// <summary>Throughput against concurrency (N producers + N consumers) for each durability, plotted to a PNG.</summary>
public sealed class SweepCommand : AsyncCommand<SweepSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, SweepSettings settings, CancellationToken cancellationToken)
    {
        var levels = settings.Levels is { Length: > 0 } l ? l : [1, 2, 4, 8, 16, 32, 64];
        var durabilities = settings.Durabilities is { Length: > 0 } d ? d : [Durability.Full, Durability.Normal];
        var points = new List<SweepPoint>();
        foreach (var durability in durabilities)
        {
            foreach (var level in levels)
            {
                var workload = new Workload(level, level, settings.Messages, settings.Size, durability, settings.ReceiveBatch, 1, 1);
                var queue = new List<RunResult>();
                var raw = new List<RunResult>();
                for (var i = 0; i < settings.Repeat; i++)
                {
                    queue.Add(await Output.WithProgressAsync($"{durability} {level}+{level} queue", settings.Messages, !settings.NoProgress,
                        p => Runner.RunQueueAsync(workload, settings.WorkDirectory, p)));
                    if (settings.Baseline)
                    {
                        raw.Add(await Output.WithProgressAsync($"{durability} {level}+{level} raw", settings.Messages, !settings.NoProgress,
                            p => Runner.RunRawAsync(workload, settings.WorkDirectory, p)));
                    }
                }

                points.Add(new SweepPoint(
                    durability.ToString(),
                    level,
                    Output.Median(queue.Select(r => r.MessagesPerSecond)),
                    raw.Count > 0 ? Output.Median(raw.Select(r => r.MessagesPerSecond)) : null,
                    Output.Median(queue.Select(r => r.Latency.P50Ms)),
                    Output.Median(queue.Select(r => r.Latency.P99Ms)),
                    Output.Median(queue.Select(r => r.MessageOperationsPerCommit)),
                    queue,
                    raw));
            }
        }

        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in new[] { "Durability", "P+C", "Queue msgs/s", "Raw 1 op/commit msgs/s", "Ratio", "p50 ms", "p99 ms", "Msg ops/commit" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (var p in points)
        {
            table.AddRow(p.Durability, $"{p.Level}+{p.Level}", p.QueueMessagesPerSecond.ToString("N0"), p.RawMessagesPerSecond?.ToString("N0") ?? "-",
                p.RawMessagesPerSecond is { } r ? (p.QueueMessagesPerSecond / r).ToString("N2") + "x" : "-",
                p.P50Ms.ToString("N2"), p.P99Ms.ToString("N2"), p.MessageOperationsPerCommit.ToString("N1"));
        }

        AnsiConsole.Write(table);
        Output.WriteJson(settings.Json, new { Command = "sweep", Machine = Output.Machine(), settings.Messages, settings.Size, settings.ReceiveBatch, Points = points });
        Chart(settings.Chart, points, levels);
        return 0;
    }

    private static void Chart(string path, List<SweepPoint> points, int[] levels)
    {
        var plot = new Plot();
        var positions = levels.Select(l => Math.Log2(l)).ToArray();
        ScottPlot.Color[] colors = [Colors.C0, Colors.C1, Colors.C2, Colors.C3];
        var colorIndex = 0;
        foreach (var group in points.GroupBy(p => p.Durability))
        {
            var color = colors[colorIndex++ % colors.Length];
            var xs = group.Select(p => Math.Log2(p.Level)).ToArray();
            var queue = plot.Add.Scatter(xs, group.Select(p => p.QueueMessagesPerSecond).ToArray());
            queue.LegendText = $"DurableQueue, {group.Key}";
            queue.Color = color;
            queue.LineWidth = 2;
            queue.MarkerSize = 7;
            var raw = group.Where(p => p.RawMessagesPerSecond is not null).ToArray();
            if (raw.Length > 0)
            {
                var baseline = plot.Add.Scatter(raw.Select(p => Math.Log2(p.Level)).ToArray(), raw.Select(p => p.RawMessagesPerSecond!.Value).ToArray());
                baseline.LegendText = $"raw SQLite, 1 op/commit, {group.Key}";
                baseline.Color = color;
                baseline.LinePattern = LinePattern.Dashed;
                baseline.MarkerSize = 5;
            }
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, levels.Select(l => $"{l}+{l}").ToArray());
        plot.Axes.SetLimitsY(0, points.Max(p => Math.Max(p.QueueMessagesPerSecond, p.RawMessagesPerSecond ?? 0)) * 1.1);
        plot.Title("End-to-end throughput (enqueue, receive up to 16, ack-many), 256-byte messages");
        plot.XLabel("producers + consumers");
        plot.YLabel("messages / s");
        plot.ShowLegend(Alignment.UpperLeft);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        plot.SavePng(full, 900, 500);
        AnsiConsole.MarkupLineInterpolated($"[grey]Chart written to {full}[/]");
    }
}

public sealed record SweepPoint(
    string Durability,
    int Level,
    double QueueMessagesPerSecond,
    double? RawMessagesPerSecond,
    double P50Ms,
    double P99Ms,
    double MessageOperationsPerCommit,
    List<RunResult> QueueRuns,
    List<RunResult> RawRuns);
