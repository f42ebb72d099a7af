using DurableQueue.Load;
using Spectre.Console;
using Spectre.Console.Cli;

if (Console.IsOutputRedirected)
{
    // Logs and files: wide enough that the result tables do not wrap.
    AnsiConsole.Profile.Width = 170;
}

var app = new CommandApp<RunCommand>();
app.Configure(config =>
{
    config.SetApplicationName("DurableQueue.Load");
    config.AddCommand<RunCommand>("run")
        .WithDescription("Producers enqueue while consumers lease in batches and ack; optionally raw SQLite doing the same work (--baseline).")
        .WithExample("run", "--producers", "4", "--consumers", "4", "--messages", "20000", "--durability", "Full", "--baseline", "--repeat", "3");
    config.AddCommand<SingleCommand>("single")
        .WithDescription("One caller at a time: one producer awaiting each enqueue, then one consumer receiving and acking one by one, beside raw SQLite.");
    config.AddCommand<ChartCommand>("chart-single")
        .WithDescription("Bar chart of the one-caller ratios of two builds from the JSON files of 'single'.");
    config.AddCommand<BodiesCommand>("bodies")
        .WithDescription("WAL bytes written by each step of one message's life (enqueue, receive, nack, receive, extend, ack) for small and large bodies.");
    config.AddCommand<BacklogCommand>("backlog")
        .WithDescription("Receive latency with a standing backlog (default 1,000 and 1,000,000 messages).");
    config.AddCommand<RssCommand>("rss")
        .WithDescription("Peak RSS with a disk backlog far larger than the memory tier's budget (fill, reopen, drain part).");
    config.AddCommand<PostgresCommand>("postgres")
        .WithDescription("DurableQueue on PostgreSQL against raw Npgsql (one transaction per operation) in the same run: end to end and single enqueue.");
    config.AddCommand<SweepCommand>("sweep")
        .WithDescription("Throughput against concurrency for Full and Normal durability; writes a JSON file and a PNG chart.");
    config.AddCommand<DashboardCommand>("dashboard")
        .WithDescription("Producers with and without open dashboard pages polling the overview, alternating in one run; store readings per refresh.");
});
return await app.RunAsync(args);
