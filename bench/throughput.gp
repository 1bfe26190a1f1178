# throughput.gp: messages/s against sessions for lmtpd, Dovecot and the
# limit (4 KiB x 1 recipient, kept connections).  run.py calls it as
#   gnuplot -e "datafile='...'; outfile='...'" throughput.gp
# with columns: sessions lmtpd dovecot limit (NaN where not measured).
if (!exists("datafile")) datafile = "throughput.dat"
if (!exists("outfile")) outfile = "throughput.png"
set terminal pngcairo size 800,500 noenhanced font ",11"
set output outfile
set title "4 KiB x 1 recipient, kept connections (medians)"
set xlabel "sessions (smtp-source -s)"
set ylabel "messages/s"
set logscale x 2
set xtics (1, 2, 4, 8, 16, 32)
set xrange [0.8:20]
set yrange [0:*]
set key top left
set grid
set datafile missing "NaN"
plot datafile using 1:4 with linespoints lw 2 pt 7 title "limit (disk work only)", \
     datafile using 1:2 with linespoints lw 2 pt 5 title "lmtpd", \
     datafile using 1:3 with linespoints lw 2 pt 9 title "Dovecot LMTP"
