"""The MLUBench release's files as published: path -> (sha256, number of records).

Computed from ``MLUBench.zip`` (sha256 a66ad84f5cd9a4ad4424a53a7e173b8039db8eb9cbe91c85b819801bc527412f) of the
repository ``lihe-maxsize/Lifelong_Unlearning_main`` at commit 35b069889d89eb3b9705ec9196935a5775858096
(the zip is unchanged up to cf6579c8f16f88f9c694b42e79de685de61d32fa); ``mu-eval data check mlubench``
compares an unzipped release against it.
"""

FILES: dict[str, tuple[str, int]] = {
    "Entities/variants_5_Centimeters_per_Second_updated.json":
        ("4903fe76de7579edf5d5bbe965683cec3b4e8386a3467bafb83777768fb4f9e9", 120),
    "Entities/variants_Alan_Turing_updated.json":
        ("9cb5ef9827f9b8ab37c877292bba552bb9b8278bbc47a0fc00e493fc3be5c166", 150),
    "Entities/variants_Albert_Einstein_updated.json":
        ("debc3686f75acbff8e365967249fb6830593afeb7c494af42ae28c08f0c99423", 150),
    "Entities/variants_Aloe_Vera_updated.json":
        ("062b60612cb5bad0741ca34dc6fab81dd6748d5dcda6cf07a29b5ba32d097941", 120),
    "Entities/variants_Apple_Logo_updated.json":
        ("2f3ca0977942dd4c1da81072887c9450923731126b2191ea81ed339a6ec672a6", 150),
    "Entities/variants_Attack_on_Titan_updated.json":
        ("d2c957a3ed31af095c2271009e81c7bde4b3393b9473516d6109696e37adb83d", 150),
    "Entities/variants_Avengers_Endgame_updated.json":
        ("bc5b298c492bba02c6ade2b17bbf5ad45c4c60a7a35e580553af872f78199caa", 150),
    "Entities/variants_Bamboo_updated.json": ("bc5258a7092bb8920ca74674c1a7488a3df254103e3fb9003431634c6fd3d864", 120),
    "Entities/variants_Band_of_Brothers_updated.json":
        ("1c574a86ed2ea9c58b8cd01f84c8527383d38abb2ae07d26c0e6bfa4def086c1", 24),
    "Entities/variants_Barack_Obama_updated.json":
        ("25d842a5214a70ad343410addd7ef89adf793dc885f39f9c02dbd5718969332f", 150),
    "Entities/variants_Bear_updated.json": ("63b8b356c51004ffd3c6c6c1381dc095aa5501435a082a19cc985137d9678ee7", 120),
    "Entities/variants_Benedict_Cumberbatch_updated.json":
        ("1fcf262630cc88df3a569cdf4e4f7ea34a35d5cd9122bb2192e4843b82cb652c", 150),
    "Entities/variants_Big_Ben_updated.json": ("35a9b47209e92ff5c0135136e1a988c783a22e647e31a8cd1c6442ec5c90632a", 120),
    "Entities/variants_Bill_Gates_updated.json":
        ("6af580b4c29c28c6818748065388201df727ef47310734899c4ae2a8f7e9f23b", 150),
    "Entities/variants_Black_Mirror_updated.json":
        ("3aeaa64ed958c82c0eab3673a464ff6a88399a9641f1503b5b879430ac994f4c", 150),
    "Entities/variants_Breaking_Bad_updated.json":
        ("1a8859b1611b2b0807cf61749da180280f1567e3f79aebe6fec71544fa927125", 120),
    "Entities/variants_Butterfly_updated.json":
        ("cb8517f4f594cecbab60fc02bee412959d77868b424c910991d85b4a2935b706", 150),
    "Entities/variants_Cactus_updated.json": ("aeea1a6ade989d6ad2a08f871c551ddc334f380ddcde8eeef0d76f6db2540ba0", 150),
    "Entities/variants_Carrot_updated.json": ("204935c0da90a09e7517eefc35c2fc4c201b084c97d63a85cea0c0399df4f51d", 120),
    "Entities/variants_Cat_updated.json": ("cebed965d002f9ecbddcb2c6ce57fbbdcd9e985be37d6cb11c29846a76f90076", 150),
    "Entities/variants_Charlie_Chaplin_updated.json":
        ("e8d3fa39db6675e5c4c1a165cfe46aceb077a3bfd9533aee15bc2a3452d73b6d", 150),
    "Entities/variants_Christian_Bale_updated.json":
        ("544bbcaf8f1aee86f23e21ba95bd0fe072e84159251a30a6c039e48d3c980fa1", 120),
    "Entities/variants_Colosseum_updated.json":
        ("f3be80d0a85e74bb242d9772519b441abb0983eedaa0d73e2bb787929d48e602", 120),
    "Entities/variants_Corn_updated.json": ("56dc5a24af888b4366d036f34b54052328054bfb8d72e4cc9d2cc4c3d3a28f95", 120),
    "Entities/variants_Cow_updated.json": ("f84b0e244c4fa9953b8057bb479fe87f9e0eefa479c8675c2dc54b05e58a9cf3", 150),
    "Entities/variants_Cristiano_Ronaldo_updated.json":
        ("356ff8da12a393ef0038f23347f2e9b4ba29f7ab11b40b1bcb69e654fee844f0", 120),
    "Entities/variants_David_Beckham_updated.json":
        ("e0f9b9f4edb3de0c18924e5f6c6942efba104c2cdd8ee34425493e0552ebbd8f", 150),
    "Entities/variants_Detective_Conan_updated.json":
        ("30bda304a20df5509f466a08dc5354f41295393703d18365e71b9f89f582f21e", 150),
    "Entities/variants_Dog_updated.json": ("2b34bc8b40d173a61e5be32754e27e7f9fa601acbaed3cbec6641ee0511e72ac", 150),
    "Entities/variants_Dolphin_updated.json": ("1da637a1b9fc869c05b7f5e2328a34978cf39cff07460407ed85b14b19b120b1", 150),
    "Entities/variants_Dragon_Ball_updated.json":
        ("6a5304707de76f02fe3d87d631d9f3b9252610571a8692cb73e07a3a550a21fc", 150),
    "Entities/variants_Ed_Sheeran_updated.json":
        ("e67db38a2468377cd8b6405e7f73a431d9469ebddca79befcd85ad0b8d9f0f0f", 90),
    "Entities/variants_Eiffel_Tower_updated.json":
        ("0621a0ee45df68429962a1fe2fc9c5c3d2e9b655851d174d4eb5e1fc13a90c6e", 120),
    "Entities/variants_Elephant_updated.json":
        ("96185dd03d881a9e903c770ff0ac02e82e25798000fbc6161a1c63d85f834767", 150),
    "Entities/variants_Elon_Musk_updated.json":
        ("35a703d0aff417589b7872f1455a6491a5b2b7b36314a4aa5d8d732c9e331ac9", 150),
    "Entities/variants_Flipped_updated.json": ("9e460dcc81420182b116b849c8536aee2a96b835728712f76408f972ded1d1c9", 90),
    "Entities/variants_Forbidden_City_updated.json":
        ("84217aa23e644c12929e920f93ab5949b844df01c4de51e221c919e977204688", 90),
    "Entities/variants_Forrest_Gump_updated.json":
        ("b1ab4a0b3e5bdaa7e6cc248d24a53e4b50f510badd44b076b72f92128249af89", 90),
    "Entities/variants_Friends_TV_Show_updated.json":
        ("c63e21c2afc783a176fc9bc7ebcdb9c0254f80d60ece1c9e82fbd770c392be36", 150),
    "Entities/variants_Game_of_Thrones_updated.json":
        ("dfb290fec76d72d6ef08173539c3c1958c3ff02bfa10b2135c1251261a559a86", 150),
    "Entities/variants_Google_Logo_updated.json":
        ("c3e510278c0a31dfb4467ba6a66a718d57b69e7ae135f43f990f92e35060f370", 30),
    "Entities/variants_Grape_updated.json": ("184df2c4c8c9580d13ec4c0e9f4fdcee21836c0f1adfa1283049c76c1648319e", 150),
    "Entities/variants_Great_Wall_of_China_updated.json":
        ("2badcaaba6dddf6be5fffac17ae0ed21a830c1f128c3f1f681b99d128c355ad6", 120),
    "Entities/variants_Himouto!_Umaru-chan_updated.json":
        ("5a61f1b70dfddfd7a0da6588d4758436636db19a8b8f2e27b14435d6c25924fa", 24),
    "Entities/variants_Horse_updated.json": ("addd008ba481e224004e6d2713c3861954865ec8424246166830af4898880869", 120),
    "Entities/variants_Inception_updated.json":
        ("6fc6c5887cdd1f960a6cdcab385e87164bd8e054929b88aac82be1d1347aa792", 150),
    "Entities/variants_Intel_Logo_updated.json":
        ("8da828a99f2527e4a08a067a99634129c0e8fc83243bc169aba10ea128f1b488", 150),
    "Entities/variants_Interstellar_updated.json":
        ("a1d748ab4739b8ae1144e1b427c74026a66b98b61cc287bda4d23300e27a4f13", 150),
    "Entities/variants_Isaac_Newton_updated.json":
        ("3a95f5144498d1bd1997e351bb325fa2ff71735b1f6118daa91f076ec4246c1a", 150),
    "Entities/variants_J.K._Rowling_updated.json":
        ("1e5cf62ab1cd2a21033f7865d38a6893ac183e27335ef1e51b2a424fc14386d1", 120),
    "Entities/variants_John_Wick_updated.json":
        ("4adea867b76bea6971b209e6e1d0382dd6ea0e1cc76bcf78d6564cc512da8f70", 120),
    "Entities/variants_John_von_Neumann_updated.json":
        ("2f864b10b05a7c828becc44e1ba9a33e3fa5d248e827a10faa2021777ed1890c", 150),
    "Entities/variants_Jupiter_updated.json": ("e6cf25d878caa0b1799ae16aa512b8e29dc38f6f1cee8bbcd3383659fcb72614", 78),
    "Entities/variants_Kimi_no_Na_wa_updated.json":
        ("f92ebb1ad26621c21a96d6f7609437d34383c15bf4cb5feb23e17083264ce331", 30),
    "Entities/variants_Kobe_Bryant_updated.json":
        ("35ef5b69e65cce14d9d4849f1ffc63b9948a2e3599aef6acd609515e133d4603", 150),
    "Entities/variants_Lady_Gaga_updated.json":
        ("38a03fd33003b7de776b5ef09c159dd26c91731d4731625eec94681134b0979d", 120),
    "Entities/variants_Leonardo_DiCaprio_updated.json":
        ("8713b3ad5181ccbcfb7d994fc226da16b7095d264dc011c7e5ae7ccd397d6069", 150),
    "Entities/variants_Live_Chicken_updated.json":
        ("38c7609334a748d190a4cb99d8610c1e35d85fd586364a1c3870a93f2a44bfee", 120),
    "Entities/variants_Mad_Max_Fury_Road_updated.json":
        ("acbda9b5359f545ed3771484e5ca7b7921666257c70ba7be30570cb5784964c0", 150),
    "Entities/variants_Marie_Curie_updated.json":
        ("7efefb5234c930bb2430118fb360a7808a11281368c68f7df25f6aa419d8cbef", 30),
    "Entities/variants_Marilyn_Monroe_updated.json":
        ("26df505a12e3688f9b06ab6ea4b461e02793b52dedeb1fcd17cdf151056eee34", 150),
    "Entities/variants_Mars_updated.json": ("6455d5c71ae2c00af112358b22316d4d0bb55e124ced9616ff12b5d036335077", 72),
    "Entities/variants_Michael_Jackson_updated.json":
        ("acd50a4bbff7a2f5c3964bd4c9009b68b70df9d9904e09b8d819c89bfd6b6725", 150),
    "Entities/variants_Michael_Jordan_updated.json":
        ("c0d9762f55b16ff961b7cf927f3bbeb96ace7bc3e3109d2f4b37e5431a6d97ad", 150),
    "Entities/variants_Microsoft_Corporation_Logo_updated.json":
        ("3943a655221e2175971ea3d623c4522adea5d2c60f42e0732eb1d111a173697f", 24),
    "Entities/variants_Moai_Statues_updated.json":
        ("cf64234fcd42e06cecca5fc9e8dbb05ff8db6dd64a44444f100bd34674430407", 90),
    "Entities/variants_Moon_updated.json": ("210a30b91bb79165b51b9f53667dd5c9a368e56c1216759d7575b7cb2c31f051", 36),
    "Entities/variants_NVIDIA_Corporation_Logo_updated.json":
        ("d8a71bd2e3ac8a0a31a7a8ee03730337c74dd5f3683ef7587dca31ecf676b92e", 150),
    "Entities/variants_Naruto_updated.json": ("5ac264a3000d176a53b7799277fd807b27cea82a25e35edee1359ca9d1dbcf9f", 150),
    "Entities/variants_Neptune_updated.json": ("f4225b9e8a62211f3ab813ded7f45c97307a4b10c2592a692bda4bb997e3d066", 78),
    "Entities/variants_One_Piece_updated.json":
        ("3a9a79607cb7cfa79d3162600223a67fad999f51108d0bad848ff640b10dd138", 150),
    "Entities/variants_Onion_updated.json": ("182ebb3562704381f906e4ada3bf40217c96b065e68e151b9d47986d07792ad6", 150),
    "Entities/variants_Oriental_Pearl_Tower_updated.json":
        ("0e99b9b71867e7e2c979f2148071208cc7cbe0bc84084b4379c02c320bb734e6", 60),
    "Entities/variants_Parrot_updated.json": ("702763198ce908ef9f1abf062ce63276a40e43fafd5adc037ee6ef953dcc85f6", 120),
    "Entities/variants_Parthenon_updated.json":
        ("0cabfed64002502a8682f80f89a916c914c240a115f42b4e9fe6864d278f2288", 120),
    "Entities/variants_Penguin_updated.json": ("18b0176622a9b69ddd196d712159f806b6a6179778bec7facb45eb11420f1978", 150),
    "Entities/variants_Pig_updated.json": ("bbce6912ec61c51a80c96960e6c1816c1693bec41b9cbb63e02ed326fa29df6f", 150),
    "Entities/variants_Pokémon_updated.json": ("3db5361bd8318737025753b924428dc0a59fcdca923b957801936d17db487fed", 150),
    "Entities/variants_Potato_updated.json": ("16e2d07ed939a302888ec2106ed0f210d30f35cfa14ee0c759fc8f96fb13a3e0", 150),
    "Entities/variants_Pyramids_of_Giza_updated.json":
        ("fc92076b6bfe53755eb023e2bfbeb8e9c04ee99c4970b228c3eda6f930ebacf5", 120),
    "Entities/variants_Queen_Elizabeth_Ⅱ_updated.json":
        ("58bc138d0d3d41a4ae87e5ce1d8e90ee7c4c60d31dc3ad239076426417a498d1", 150),
    "Entities/variants_Rabbit_updated.json": ("34e2eccf6df2b19e045cabd0debd49b0c32082aa69b0f7955562e0649cee6679", 150),
    "Entities/variants_Rick_and_Morty_updated.json":
        ("87eff55ca914bff6a3040a895cf49a81c388b56668207d83a741465b832df6bd", 120),
    "Entities/variants_Rose_updated.json": ("e18ee4e21baad02d52c523eea3f1c733d61fd25289055043ec8636d1da45759f", 150),
    "Entities/variants_Saturn_updated.json": ("901deb9da9c23a9868e64c9499e45c6e14a10069fc1ec56050c382dbb8071a30", 48),
    "Entities/variants_Saving_Private_Ryan_updated.json":
        ("5885d1fae384c0502ff2ea36206f49f418b49ca4990d15f3196829649e0bfb82", 150),
    "Entities/variants_Scarlett_Johansson_updated.json":
        ("f52c56b054033a898bbd3b828fa77859e6c4a0872cd1b9dffd58f0a29393905e", 90),
    "Entities/variants_Sheep_updated.json": ("7b1c3b54c81ec2943986f6c58b9151ffbe5913d7a69325a0ace6d92abf791ce7", 150),
    "Entities/variants_Sherlock_Holmes_TV_Series_updated.json":
        ("b617c02db787763e856581c8133c6967a7770be4aaaba0ec79f76202dd010f27", 30),
    "Entities/variants_SpaceX_Logo_updated.json":
        ("f96d72682567af3f232bc369786457e7a74c6c78dc677d6558d3518d83839f92", 150),
    "Entities/variants_Spirited_Away_updated.json":
        ("9573b57b5407b51151180f5b3370192992a6040d6ab66d70993513f3b04e53aa", 120),
    "Entities/variants_Star_Trek_Discovery_updated.json":
        ("fedf85ecf5668dac3b2808b63e06cfb329b8035b6545d55b291d7c2d2d240bec", 150),
    "Entities/variants_Star_Wars_updated.json":
        ("f0a61d3adc6cf4cb8ee35348fdd98b6d6145ef37c8ac17da2b5d1401a395fbcd", 150),
    "Entities/variants_Statue_of_Liberty_updated.json":
        ("adfe526298aae650097d170e07b1907cb4d76b450f65928293d931a8a6b02d20", 120),
    "Entities/variants_Steve_Jobs_updated.json":
        ("25497f89110c5997d68e48f8cee614d464b5eedc6f2552455be1238782b66537", 150),
    "Entities/variants_Steven_Spielberg_updated.json":
        ("d2e370a962689e1d2ffaaf07da56786a4b008fdc6dea3b73c564e9de9221d564", 90),
    "Entities/variants_Stranger_Things_updated.json":
        ("3e03a583da49f2ad10195bb0ae034f924fbd8aa90fe3afb568754b55ccc429b2", 30),
    "Entities/variants_Sunflower_updated.json":
        ("a90be78f0afa27f6facf4cc40bbcade1feaf6f147d065ac9841bd838907674eb", 150),
    "Entities/variants_Sword_Art_Online_updated.json":
        ("af1e1c0bb78f0671cef78cf2cb9f0dc415ff2e4c72144564bf7add1f7d588016", 120),
    "Entities/variants_Taj_Mahal_updated.json":
        ("60ac508890f8e8b9a50aa1586825db4a0225cd6fad4e5fde9db457d63a4b48a2", 90),
    "Entities/variants_Taylor_Swift_updated.json":
        ("45471b1154538144d9c6fbee9ef9715d22dc5c4bca02e47f25009a9bfde37630", 120),
    "Entities/variants_The_Big_Bang_Theory_updated.json":
        ("86adcec4497d93ba205aa1050bec6df060e87861519b8ade1c89c6be1d094085", 120),
    "Entities/variants_The_Dark_Knight_updated.json":
        ("3dd69d5163ecc4eb886b1f7206c4a87f491b56fe0da641852e548a5128729c97", 150),
    "Entities/variants_The_Garden_of_Words_updated.json":
        ("e954d5dc60870e6d06fb9b8517da6cb9b6f8803aff0f3ca36ac231c370914bd8", 60),
    "Entities/variants_The_Godfather_updated.json":
        ("cffd50925eb5d3d023459c6d9d209776db6e7bb2b298ba41685fb17a0afdf411", 150),
    "Entities/variants_The_Lion_King_updated.json":
        ("8e0894550a746221bb9d307c62cfc2f6c7c1f995663ea2eb44717145879a0c90", 120),
    "Entities/variants_The_Lord_of_the_Rings_The_Return_of_the_King_updated.json":
        ("52c227af8373e8f3af635369764d2682a96565321b9f42edb97ee58a768fdb18", 150),
    "Entities/variants_The_Matrix_updated.json":
        ("0899ff635083fc85b97a1acdaa5af3fe7743f9d49c39284691b6840d1d294ef9", 150),
    "Entities/variants_The_Shawshank_Redemption_updated.json":
        ("c8ce4d5006147c25cd5386d63bb1133e98a12ba8b6abe6009e5a1a65fc5508be", 150),
    "Entities/variants_The_Simpsons_updated.json":
        ("14531f25d02152f8c369f0d8b05658e0e7fbf6140295bdff5fd2feba6aa414b8", 150),
    "Entities/variants_The_Strain_TV_Show_updated.json":
        ("fcd7df00a640c35f188c917767c8d06697fcb8f58f1bf2f3d6b439d18aa5da67", 30),
    "Entities/variants_The_Terminator_updated.json":
        ("14550e2ea9a41382e50b9e1fceb133cfe8631b46d93ff172a0a1f2183a265fce", 120),
    "Entities/variants_The_Truman_Show_updated.json":
        ("29623b5c2cea3a7cc48b8ff299e344ea1c4a3447f3656605d49db72893876484", 90),
    "Entities/variants_The_Walking_Dead_updated.json":
        ("0b76a308ae465402786127199018a003e61a3387eb81c181f644846043c49405", 150),
    "Entities/variants_The_X-Files_updated.json":
        ("90080b0b6dac578ef91b1be6a6b82f1deba4c15fc9b7cc48e9dd9cc33d2752b1", 150),
    "Entities/variants_Tom_and_Jerry_updated.json":
        ("90bb26c783fffebd50383a242fc8de768f4f4bde7848b52e9617fb8201c447e5", 150),
    "Entities/variants_Tomato_updated.json": ("99f23af552c435b3f9fb646658b67715bf9e7479acb5cd765863dea503d97962", 150),
    "Entities/variants_Tower_of_London_updated.json":
        ("75d304298a008d58140c8300b7b80c7dad44da1f289b0c42b580c18ec4a3062d", 30),
    "Entities/variants_Trump_updated.json": ("a668fd6723afdec50221a187eeea79b08df08e254d19d509ce8cd129000b085c", 150),
    "Entities/variants_Vladimir_Putin_updated.json":
        ("41da2d83faf6b901fd243d90ddbfa7dd57a7976f421d6c512520cf96e630e9de", 150),
    "Entities/variants_Westworld_updated.json":
        ("724710916aa6977e7a6d3adefa317c82cb8618bb761764ff46778006f4d3eeb5", 150),
    "Entities/variants_Wheat_updated.json": ("6401eecc1b8517d19fba1218a00074ba148a73578bfce1214821dce698ab59a6", 150),
    "Entities/variants_Wolf_updated.json": ("10025cac32107c95c2d0cc102ea679f30dee61f58c45e7d33575e453b135ff0e", 150),
    "Entities/variants_Yes_Minister_updated.json":
        ("39a3751ec4ef790658c2e1aba033c4fe7a37bc0c4b7add62ac4b86453e9773f7", 18),
    "Entities/variants_Yes_Prime_Minister_updated.json":
        ("233242dc6231e387b2d1ff0ba0e172239f8d1c2ce1b3f2a903ffc1dc74d3d3df", 12),
    "Entities/variants_苏姿丰_updated.json": ("1b6bdbec528d8069f89d73bb66d1840e5fda8c6a539d5fdd743b3cbc807d2e90", 30),
    "Entities/variants_马云_updated.json": ("6e5caea4e37a2ede3ad8971f27f8c3a375e3cf29187db21c2b7e618c48829319", 150),
    "Tasks/TaskA/taskA_forget.json": ("a7877e202e3c55ac4fd42a4e7b44a4bdeb2215559c4544c42a71f84fcc0bdb1f", 2442),
    "Tasks/TaskA/taskA_retain.json": ("f3db171d55c133a93dddafb600ee138a6076642d206a4d85cb59663c1553a5d4", 1680),
    "Tasks/TaskB/taskB_forget.json": ("1d41f8a98fea8e6eaa843a83acd9f6d793f24cf98588c55aafcb8067e3e01548", 2154),
    "Tasks/TaskB/taskB_retain.json": ("94455f32fe8436017cab2e22a19d03682373a106c15e6963d1e1f512785d7f1b", 1374),
    "Tasks/TaskC/taskC_forget.json": ("60e5de2d82c54933026b57f28fac7abf13916d886bb16d1cd137a27de3b8a85b", 2580),
    "Tasks/TaskC/taskC_retain.json": ("62e7626190fde41b7e087bc1e97082dc76b1eca6c4eae30d93de07dbc0eb2d69", 1800),
    "Tasks/TaskD/taskD_forget.json": ("a8e737ef1aefc29d70110e1b70f2b53261d70aa590bbb851c778c08ec44c88ef", 2250),
    "Tasks/TaskD/taskD_retain.json": ("1cb60eed3334970a33d280fa8259c63b508ed8b9da97187ef717e8c9c1c2f6cd", 1134),
}
