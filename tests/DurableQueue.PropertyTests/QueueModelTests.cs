using System.Diagnostics;
using System.Text.RegularExpressions;
using DurableQueue.PropertyTests.Model;
using FsCheck;
using FsCheck.Experimental;
using Microsoft.FSharp.Core;
using Xunit.Abstractions;

namespace DurableQueue.PropertyTests;

/// <summary>
/// Random operation sequences against the real store on a SQLite file and the in-memory model; every step checks the
/// contract (docs/guarantees.md, guarantees 2 to 10). A failure prints the shrunk sequence and the seed to replay it with
/// DQ_PROPERTY_REPLAY. <see cref="PostgresQueueModelTests"/> runs the same machine against PostgreSQL.
/// </summary>
public sealed partial class QueueModelTests(ITestOutputHelper output)
{
    [Fact]
    public void RandomOperationSequences_MatchTheModel() => Run(output, StoreBackend.Sqlite, PropertySettings.Runs);

    /// <summary>Runs <paramref name="runs"/> random sequences of the model on <paramref name="backend"/>; throws the shrunk counter-example.</summary>
    internal static void Run(ITestOutputHelper output, StoreBackend backend, int runs)
    {
        var config = Config.QuickThrowOnFailure.WithMaxTest(runs).WithStartSize(1).WithEndSize(PropertySettings.Steps).WithQuietOnSuccess(true);
        if (PropertySettings.Replay is { } replay)
        {
            config = config.WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(replay.Seed, replay.Gamma), FSharpOption<int>.None)));
        }

        Coverage.Reset();
        var watch = Stopwatch.StartNew();
        try
        {
            Check.One(config, StateMachine.ToProperty(new QueueMachine(backend)));
        }
        catch (Exception ex)
        {
            var seed = SeedPattern().Match(ex.Message);
            var hint = seed.Success
                ? $"\nReplay this run with the environment variable DQ_PROPERTY_REPLAY=\"{seed.Groups[1].Value},{seed.Groups[2].Value}\"."
                : string.Empty;
            output.WriteLine(ex.Message + hint);
            throw new Xunit.Sdk.XunitException(ex.Message + hint);
        }

        output.WriteLine($"{runs} sequences of up to {PropertySettings.Steps} steps on {backend} passed in {watch.Elapsed.TotalSeconds:0.0} s.");
        output.WriteLine($"Exercised: {Coverage.Report()}");
    }

    [GeneratedRegex(@"\((\d+),\s*(\d+)\)")]
    private static partial Regex SeedPattern();
}
