using DurableQueue;
using DurableQueue.Cli.Commands;
using DurableQueue.Cli.Infrastructure;
using Spectre.Console.Cli;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C asks the command to stop cleanly; a second one ends the process.
    if (!cancellation.IsCancellationRequested)
    {
        e.Cancel = true;
        cancellation.Cancel();
    }
};

Errors.Arguments = args;
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("dq");
    config.SetApplicationVersion(Versions.Informational());
    config.UseStrictParsing();
    config.ConfigureConsole(Consoles.Out);
    config.SetExceptionHandler((ex, _) => Errors.Report(ex, cancellation.IsCancellationRequested));
    config.SetInterceptor(new StoreOptionsInterceptor());

    config.AddCommand<StatsCommand>("stats")
        .WithDescription("Per queue: ready, delayed, leased, dead-lettered, oldest ready age; file, WAL and free-page sizes (or the PostgreSQL schema's size); schema version.")
        .WithExample("stats", "app.db").WithExample("stats", "app.db", "--json")
        .WithExample("stats", "\"Host=db;Database=app;Username=app\"", "--schema", "durablequeue");
    config.AddCommand<PeekCommand>("peek")
        .WithDescription("Show messages without leasing them.")
        .WithExample("peek", "app.db", "orders", "-n", "20");
    config.AddBranch("dead", dead =>
    {
        dead.SetDescription("Dead letters: list, show, requeue, purge.");
        dead.AddCommand<DeadListCommand>("list").WithDescription("List dead letters with their reason and last error.");
        dead.AddCommand<DeadShowCommand>("show").WithDescription("Show one dead letter in full.");
        dead.AddCommand<DeadRequeueCommand>("requeue").WithDescription("Move dead letters back into the queue (attempts reset): some ids, or --all.")
            .WithExample("dead", "requeue", "app.db", "orders", "17", "42").WithExample("dead", "requeue", "app.db", "orders", "--all");
        dead.AddCommand<DeadPurgeCommand>("purge").WithDescription("Delete every dead letter of the queue (asks first; --yes skips).");
    });
    config.AddCommand<PurgeCommand>("purge")
        .WithDescription("Delete every live message of the queue: ready, delayed and leased (asks first; --yes skips). Dead letters stay.")
        .WithExample("purge", "app.db", "orders", "--yes");
    config.AddCommand<DeleteCommand>("delete")
        .WithDescription("Delete live messages by id (asks first; --yes skips).")
        .WithExample("delete", "app.db", "orders", "17", "42");
    config.AddCommand<MoveCommand>("move")
        .WithDescription("Move live messages by id to another queue, each in one transaction (new ids, attempts reset; asks first; --yes skips).")
        .WithExample("move", "app.db", "orders", "17", "--to", "orders-manual");
    config.AddCommand<EnqueueCommand>("enqueue")
        .WithDescription("Enqueue messages from stdin or --file: one per line, or the whole input with --whole.")
        .WithExample("enqueue", "app.db", "orders", "--priority", "1", "--delay", "5m");
    config.AddCommand<ExportCommand>("export")
        .WithDescription("Write the queue's messages (or --dead-letters) as JSON lines, for backup or moving to another store (file or PostgreSQL).")
        .WithExample("export", "app.db", "orders", "-o", "orders.jsonl");
    config.AddCommand<ImportCommand>("import")
        .WithDescription("Enqueue JSON lines from export, in atomic batches, keeping priorities, delays and headers.")
        .WithExample("import", "other.db", "orders", "-i", "orders.jsonl", "--create")
        .WithExample("import", "postgresql://app@db/app", "orders", "-i", "orders.jsonl", "--create");
    config.AddCommand<VerifyCommand>("verify")
        .WithDescription("The queue's invariants (plus SQLite's integrity check on a file); exit code 1 when something is wrong.");
    config.AddCommand<DoctorCommand>("doctor")
        .WithDescription("SQLite files only: check whether the file's place and settings keep the queue durable; exit 1 on warnings, 7 on errors.")
        .WithExample("doctor", "app.db").WithExample("doctor", "app.db", "--json", "--probe-fsync");
    config.AddCommand<CompactCommand>("compact")
        .WithDescription("SQLite files only: checkpoint (TRUNCATE) the WAL and hand free pages back to the file system.");
    config.AddCommand<WatchCommand>("watch")
        .WithDescription("Live depth and rates per queue, refreshed every second until Ctrl+C (or --count N refreshes); --json for JSON lines.");
});

var code = await app.RunAsync(args, cancellation.Token).ConfigureAwait(false);

// Without a command (`dq`, `dq dead`) the help was printed: that is a usage error, not success and not "verify found
// problems" (the exit code the parser uses for it).
return args is [] or ["dead"] ? ExitCodes.Usage : code;
