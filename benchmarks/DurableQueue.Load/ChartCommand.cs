using System.ComponentModel;
using System.Text.Json;
using ScottPlot;
using Spectre.Console;
using Spectre.Console.Cli;

namespace DurableQueue.Load;

public sealed class ChartSettings : CommandSettings
{
    [CommandOption("--before")]
    [Description("JSON files of 'single' runs of the earlier build (repeat the option).")]
    public string[]? Before { get; set; }

    [CommandOption("--after")]
    [Description("JSON files of 'single' runs of the build measured (repeat the option).")]
    public string[]? After { get; set; }

    [CommandOption("-o|--chart")]
    [DefaultValue("single.png")]
    public string Chart { get; set; } = "single.png";

    public override ValidationResult Validate() =>
        Before is not { Length: > 0 } || After is not { Length: > 0 }
            ? ValidationResult.Error("Give at least one --before and one --after file.")
            : ValidationResult.Success();
}

/// <summary>
/// Bars of the one-caller ratios (DurableQueue / raw SQLite in the same run) of two builds, from the JSON files of the
/// 'single' command: the median over the files of each build, per durability and phase.
/// </summary>
public sealed class ChartCommand : Command<ChartSettings>
{
    public override int Execute(CommandContext context, ChartSettings settings, CancellationToken cancellationToken)
    {
        var before = Ratios(settings.Before!);
        var after = Ratios(settings.After!);
        var keys = after.Keys.Where(before.ContainsKey).ToArray();
        var plot = new Plot();
        var bars = new List<Bar>();
        for (var i = 0; i < keys.Length; i++)
        {
            bars.Add(new Bar { Position = (i * 3) + 0, Value = before[keys[i]], FillColor = Colors.Gray, Label = before[keys[i]].ToString("N2") });
            bars.Add(new Bar { Position = (i * 3) + 1, Value = after[keys[i]], FillColor = Colors.C0, Label = after[keys[i]].ToString("N2") });
        }

        var series = plot.Add.Bars(bars);
        series.ValueLabelStyle.FontSize = 12;
        plot.Add.HorizontalLine(1.0, 1, Colors.Black, LinePattern.Dashed);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            keys.Select((_, i) => (i * 3) + 0.5).ToArray(), keys.Select(k => k.Replace(' ', '\n')).ToArray());
        plot.Axes.Margins(bottom: 0);
        plot.Axes.SetLimitsY(0, Math.Max(1.2, after.Values.Concat(before.Values).Max() * 1.15));
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "before (main at the start)", FillColor = Colors.Gray });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "after", FillColor = Colors.C0 });
        plot.ShowLegend(Alignment.UpperRight);
        plot.Title("One caller at a time: DurableQueue / raw SQLite in the same run (median of rounds)");
        plot.YLabel("ratio to raw SQLite (1.0 = as fast)");
        var full = Path.GetFullPath(settings.Chart);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        plot.SavePng(full, 900, 480);
        AnsiConsole.MarkupLineInterpolated($"[grey]Chart written to {full}[/]");
        return 0;
    }

    /// <summary>Median ratio per "durability phase" over the files (each file holds its own paired rounds).</summary>
    private static Dictionary<string, double> Ratios(string[] files)
    {
        var all = new Dictionary<string, List<double>>();
        foreach (var file in files)
        {
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var median in document.RootElement.GetProperty("Medians").EnumerateArray())
            {
                var key = $"{median.GetProperty("Durability").GetString()} {median.GetProperty("Phase").GetString()}";
                if (!all.TryGetValue(key, out var list))
                {
                    all[key] = list = [];
                }

                list.AddRange(median.GetProperty("Ratios").EnumerateArray().Select(r => r.GetDouble()));
            }
        }

        return all.ToDictionary(p => p.Key, p => Output.Median(p.Value));
    }
}
