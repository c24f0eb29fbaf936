#!/usr/bin/perl
# A small SMSC for tests: SMPP 3.4 over Net::SMPP (Debian's libnet-smpp-perl), an
# implementation independent of the client under test. Listens on 127.0.0.1 only.
#
#   smsc.pl --port 0 --system-id ID --password PW --record FILE [--refuse NUMBER]...
#           [--receipt-delay-ms 200] [--receipt-stat DELIVRD]
#
# Prints "listening 127.0.0.1:PORT" once it accepts connections. Each session runs in a
# forked child (same process group, so the launcher stops them all). Every PDU received
# is written to FILE as one JSON line; submit_sm's text is recorded as hex (UDH apart).
# A bind with the wrong system_id or password is answered ESME_RINVSYSID/ESME_RINVPASWD
# and the connection closed; a submit_sm to a refused number ESME_RINVDSTADR; any other
# submit_sm gets a message id and, a moment later on a transceiver bind, a delivery
# receipt (deliver_sm, esm_class 0x04, "id:… stat:…" and receipted_message_id).
use strict;
use warnings;
use Getopt::Long;
use IO::Select;
use JSON::PP;
use POSIX qw(strftime :sys_wait_h);
use Time::HiRes qw(time);
use Net::SMPP;

my %opt = (port => 0, 'receipt-delay-ms' => 200, 'receipt-stat' => 'DELIVRD');
my @refused;
GetOptions(\%opt, 'port=i', 'system-id=s', 'password=s', 'record=s',
           'refuse=s' => \@refused, 'receipt-delay-ms=i', 'receipt-stat=s')
    or die "usage: smsc.pl --port P --system-id ID --password PW --record FILE\n";
for my $need ('system-id', 'password', 'record') {
    die "smsc.pl: --$need is required\n" unless defined $opt{$need};
}
my %refuse = map { (my $n = $_) =~ s/^\+//; ($n => 1) } @refused;

use constant {
    CMD_BIND_RECEIVER => 0x00000001, CMD_BIND_TRANSMITTER => 0x00000002,
    CMD_SUBMIT_SM => 0x00000004, CMD_DELIVER_SM_RESP => 0x80000005,
    CMD_UNBIND => 0x00000006, CMD_BIND_TRANSCEIVER => 0x00000009,
    CMD_ENQUIRE_LINK => 0x00000015, CMD_ENQUIRE_LINK_RESP => 0x80000015,
    CMD_GENERIC_NACK => 0x80000000,
    ESME_RINVBNDSTS => 0x04, ESME_RINVDSTADR => 0x0B, ESME_RINVPASWD => 0x0E,
    ESME_RINVSYSID => 0x0F, ESME_RINVCMDID => 0x03,
};
my %BIND_NAME = (CMD_BIND_RECEIVER() => 'bind_receiver',
                 CMD_BIND_TRANSMITTER() => 'bind_transmitter',
                 CMD_BIND_TRANSCEIVER() => 'bind_transceiver');

my $json = JSON::PP->new->canonical(1);

sub record {
    my ($entry) = @_;
    $entry->{at} = sprintf('%.3f', time);
    open(my $fh, '>>', $opt{record}) or die "smsc.pl: cannot write $opt{record}: $!\n";
    syswrite($fh, $json->encode($entry) . "\n");  # one write per line: children share the file
    close($fh);
}

my $listener = Net::SMPP->new_listen('127.0.0.1', port => $opt{port}, smpp_version => 0x34)
    or die "smsc.pl: cannot listen on 127.0.0.1:$opt{port}: $!\n";
$| = 1;
print 'listening 127.0.0.1:' . $listener->sockport() . "\n";

$SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };
$SIG{TERM} = sub { exit 0 };

while (1) {
    my $conn = $listener->accept() or next;  # accept is interrupted by SIGCHLD
    my $pid = fork();
    if (!defined $pid) { close($conn); next; }
    if ($pid == 0) {
        close($listener);
        session($conn);
        exit 0;
    }
    close($conn);
}

sub session {
    my ($smsc) = @_;
    my $select = IO::Select->new($smsc);
    my ($bound, $counter, @receipts) = ('', 0);
    while (1) {
        my $now = time;
        while (@receipts && $receipts[0]{due} <= $now) {
            my $r = shift @receipts;
            send_receipt($smsc, $r) if $bound eq 'bind_transceiver' || $bound eq 'bind_receiver';
        }
        my $wait = @receipts ? $receipts[0]{due} - $now : 1;
        $wait = 0 if $wait < 0;
        next unless $select->can_read($wait);
        my $pdu = $smsc->read_pdu() or return;  # the client closed the connection
        my $cmd = $pdu->{cmd};
        if (exists $BIND_NAME{$cmd}) {
            my $ok_id = $pdu->{system_id} eq $opt{'system-id'};
            my $ok_pw = $pdu->{password} eq $opt{password};
            my $status = !$ok_id ? ESME_RINVSYSID : !$ok_pw ? ESME_RINVPASWD : 0;
            record({pdu => $BIND_NAME{$cmd}, system_id => $pdu->{system_id},
                    system_type => $pdu->{system_type}, status => $status});
            $smsc->resp_backend($cmd | 0x80000000, pack('Z*', 'napomni-smsc'), $smsc,
                                seq => $pdu->{seq}, status => $status);
            return if $status;
            $bound = $BIND_NAME{$cmd};
        } elsif ($cmd == CMD_SUBMIT_SM) {
            if ($bound ne 'bind_transceiver' && $bound ne 'bind_transmitter') {
                $smsc->submit_sm_resp(seq => $pdu->{seq}, status => ESME_RINVBNDSTS,
                                      message_id => '');
                next;
            }
            my $sm = $pdu->{short_message} // '';
            my $udh = '';
            if ($pdu->{esm_class} & 0x40) {  # UDHI: the first octet is the header's length
                my $len = unpack('C', $sm);
                $udh = substr($sm, 0, $len + 1);
                $sm = substr($sm, $len + 1);
            }
            my $status = $refuse{$pdu->{destination_addr}} ? ESME_RINVDSTADR : 0;
            my $id = $status ? '' : sprintf('%d%06d', $$, ++$counter);
            record({pdu => 'submit_sm', destination => $pdu->{destination_addr},
                    source => $pdu->{source_addr}, data_coding => $pdu->{data_coding},
                    esm_class => $pdu->{esm_class},
                    registered_delivery => $pdu->{registered_delivery},
                    udh => unpack('H*', $udh), short_message => unpack('H*', $sm),
                    message_id => $id, status => $status});
            $smsc->submit_sm_resp(seq => $pdu->{seq}, status => $status, message_id => $id);
            if (!$status && ($pdu->{registered_delivery} & 0x03)) {
                push @receipts, {due => time + $opt{'receipt-delay-ms'} / 1000, id => $id,
                                 to => $pdu->{destination_addr},
                                 from => $pdu->{source_addr}, sm => $sm,
                                 coding => $pdu->{data_coding}};
            }
        } elsif ($cmd == CMD_ENQUIRE_LINK) {
            record({pdu => 'enquire_link'});
            $smsc->enquire_link_resp(seq => $pdu->{seq});
        } elsif ($cmd == CMD_UNBIND) {
            record({pdu => 'unbind'});
            $smsc->unbind_resp(seq => $pdu->{seq});
            return;
        } elsif ($cmd == CMD_DELIVER_SM_RESP) {
            record({pdu => 'deliver_sm_resp', status => $pdu->{status}});
        } elsif ($cmd == CMD_ENQUIRE_LINK_RESP || $cmd == CMD_GENERIC_NACK) {
            record({pdu => sprintf('0x%08x', $cmd), status => $pdu->{status}});
        } else {
            record({pdu => sprintf('0x%08x', $cmd)});
            $smsc->generic_nack(seq => $pdu->{seq}, status => ESME_RINVCMDID);
        }
    }
}

sub send_receipt {
    my ($smsc, $r) = @_;
    # Real SMSCs quote the message's first 20 characters: the client must not log them.
    my $text = $r->{sm};
    $text = eval { Encode::decode('UTF-16BE', $text) } // '' if $r->{coding} == 8;
    $text = substr($text, 0, 20);
    $text =~ s/[^\x20-\x7e]/?/g;
    my $date = strftime('%y%m%d%H%M', localtime);
    my $stat = $opt{'receipt-stat'};
    my $err = $stat eq 'DELIVRD' ? '000' : '001';
    my $body = "id:$r->{id} sub:001 dlvrd:" . ($stat eq 'DELIVRD' ? '001' : '000')
        . " submit date:$date done date:$date stat:$stat err:$err text:$text";
    my %state = (DELIVRD => 2, EXPIRED => 3, DELETED => 4, UNDELIV => 5, ACCEPTD => 6,
                 UNKNOWN => 7, REJECTD => 8);
    $smsc->deliver_sm(
        source_addr => $r->{to}, destination_addr => $r->{from}, esm_class => 0x04,
        data_coding => 0, short_message => $body, async => 1,
        receipted_message_id => "$r->{id}\0",
        message_state => pack('C', $state{$stat} // 7),
    );
    record({pdu => 'deliver_sm', receipt_for => $r->{id}, stat => $stat});
}

use Encode ();
