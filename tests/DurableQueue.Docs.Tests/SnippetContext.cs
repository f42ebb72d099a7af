// The app of the docs' code blocks: the types and names a block uses without declaring them. Blocks are compiled against
// this assembly (see CodeBlockTests); the types are public and in the global namespace, as in a small app.
#pragma warning disable CA1050 // Declare types in namespaces: the docs' blocks use these names unqualified.
using System.Text.Json.Serialization;
using DurableQueue;
using DurableQueue.Hosting;

/// <summary>An email to send (the docs' typed message).</summary>
public sealed record Email(string To, string Subject);

/// <summary>A report job's argument.</summary>
public sealed record ReportRequest(int From, int To);

/// <summary>A report job's result.</summary>
public sealed record Report(int Count);

/// <summary>The docs' typed handler.</summary>
public sealed class EmailHandler : IMessageHandler<Email>
{
    public ValueTask HandleAsync(Email message, MessageContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>The docs' job handler.</summary>
public sealed class ReportHandler : IJobHandler<ReportRequest, Report>
{
    public ValueTask<Report> HandleAsync(ReportRequest argument, MessageContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new Report(argument.To - argument.From + 1));
}

/// <summary>The docs' raw-bytes handler.</summary>
public sealed class RawHandler : IMessageHandler
{
    public ValueTask HandleAsync(MessageContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>The app's System.Text.Json metadata (source-generated).</summary>
[JsonSerializable(typeof(Email))]
[JsonSerializable(typeof(ReportRequest))]
[JsonSerializable(typeof(Report))]
public sealed partial class AppJson : JsonSerializerContext;

/// <summary>
/// The names a block uses as a fragment of a larger program: each block is compiled as the body of a method of a class
/// derived from this one. A block's own declarations hide these.
/// </summary>
public abstract class SnippetContext
{
#pragma warning disable SA1401, CA1051, IDE1006 // the docs' spelling: plain lower-case names
    protected string[] args = [];
    protected Microsoft.AspNetCore.Builder.WebApplicationBuilder builder = null!;
    protected Microsoft.AspNetCore.Builder.WebApplication app = null!;
    protected QueueStore store = null!;
    protected MessageQueue queue = null!;
    protected MessageQueue orders = null!;
    protected MessageQueue jobs = null!;
    protected QueueMessage message = null!;
    protected byte[] body = [];
    protected byte[] first = [];
    protected byte[] second = [];
    protected byte[] shipment = [];
    protected string sku = "";
    protected Exception ex = null!;
    protected CancellationToken cancellationToken;
#pragma warning restore SA1401, CA1051, IDE1006

    /// <summary>The app's own processing of a message body.</summary>
    protected static void Handle(ReadOnlyMemory<byte> body)
    {
    }
}
