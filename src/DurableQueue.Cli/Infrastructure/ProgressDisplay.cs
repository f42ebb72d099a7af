using Spectre.Console;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>Progress bars on stderr, shown only when stderr is a terminal (piped runs stay clean).</summary>
internal static class ProgressDisplay
{
    /// <summary>Runs work that reports a running count, with a bar when the total is large enough to be worth one.</summary>
    public static async Task<long> RunAsync(string description, long total, Func<IProgress<long>, Task<long>> work)
    {
        if (!Consoles.ErrorIsTerminal || total < 1000)
        {
            return await work(new Progress<long>()).ConfigureAwait(false);
        }

        long result = 0;
        await NewProgress().StartAsync(async ctx =>
        {
            var task = ctx.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
            result = await work(new SyncProgress(v => task.Value = v)).ConfigureAwait(false);
            task.Value = task.MaxValue;
        }).ConfigureAwait(false);
        return result;
    }

    /// <summary>Runs work that drives a progress task itself; without a terminal the task is a stand-in nobody sees.</summary>
    public static async Task RunAsync(string description, double total, Func<Action<double>, Task> work)
    {
        if (!Consoles.ErrorIsTerminal)
        {
            await work(_ => { }).ConfigureAwait(false);
            return;
        }

        await NewProgress().StartAsync(async ctx =>
        {
            var task = ctx.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
            await work(v => task.Value = v).ConfigureAwait(false);
            task.Value = task.MaxValue;
        }).ConfigureAwait(false);
    }

    private static Spectre.Console.Progress NewProgress() => Consoles.Error.Progress()
        .AutoClear(false)
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn());

    /// <summary>Reports on the caller's thread (System.Progress would post to the thread pool and lag behind).</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
